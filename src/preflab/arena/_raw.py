"""The arena's hot path in plain DBAPI calls, and rate limits shared by every worker.

SQLAlchemy sets up the engine, the tables and the admin queries; the few statements run on
every request (open a battle, close it, store the vote, bump the pair counts and the rate
counters) go straight to the driver's connection (``sqlite3`` or ``psycopg``) as constant SQL
text, which both drivers cache as prepared statements.  That removes ~0.1 ms of statement
compilation and result wrapping per statement.

Rate limits
-----------
Counters live in the database (``arena_rate``: key, one-minute window index, count), so all
workers (and all hosts on PostgreSQL) share them.  Each limited write bumps its counters in
the same transaction as the write itself (no extra commit or fsync) and is refused, rolled
back with its counters, when the sliding-window estimate

.. math:: \\hat n = n_\\text{current} + \\lceil n_\\text{previous}\\,(1 - f) \\rceil

(``f`` the elapsed fraction of the current window; the estimator of Cloudflare's limiter,
rounded up so that a burst across a window boundary never gets more than the limit) reaches
the limit.  Keys are locked in sorted order before a batch runs on PostgreSQL, so
two workers never wait on each other's counters in opposite orders.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Engine

from preflab._errors import PreflabError

Limits = tuple[tuple[str, int], ...]  # (counter key, limit per window)

WINDOW = 60.0

_BUMP = ("INSERT INTO arena_rate (key, win, n) VALUES (?, ?, 1) ON CONFLICT (key, win) "
         "DO UPDATE SET n = arena_rate.n + 1 RETURNING n")
_PREVIOUS = "SELECT n FROM arena_rate WHERE key = ? AND win = ?"
_SWEEP = "DELETE FROM arena_rate WHERE win < ?"
_PRELOCK_PG = ("INSERT INTO arena_rate (key, win, n) SELECT k, %s, 0 FROM unnest(%s::text[]) "
               "AS k ORDER BY k ON CONFLICT (key, win) DO UPDATE SET n = arena_rate.n")


class RateLimited(PreflabError):
    """Too many events for one counter (a voter or an IP) in the last minute."""

    def __init__(self, key: str) -> None:
        super().__init__(f"rate limit reached for {key.split(':', 1)[0]}")
        self.key = key


class RawDB:
    """Driver-level connections of an engine: write transactions, reads, rate counters."""

    def __init__(self, engine: Engine, begin_immediate: Any, *,
                 sqlite_synchronous: str = "FULL") -> None:
        self.engine = engine
        self.sqlite_synchronous = sqlite_synchronous
        self.sqlite = engine.dialect.name == "sqlite"
        self._begin_immediate = begin_immediate
        if self.sqlite:
            import sqlite3
            self.errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
        else:
            import psycopg
            self.errors = (psycopg.Error,)
        self._swept = 0

    def sql(self, text: str) -> str:
        """``?`` placeholders (sqlite3) as ``%s`` for psycopg."""
        return text if self.sqlite else text.replace("?", "%s")

    @contextmanager
    def write(self, *, relaxed: bool = False) -> Iterator[Any]:
        """A write transaction on a pooled connection, committed (fsynced) at the block's end.

        ``relaxed``: the commit returns before the log reaches the disk (SQLite
        ``synchronous=NORMAL`` for this transaction, PostgreSQL ``synchronous_commit=off``).
        It survives a killed server, not a power cut; and because the log is sequential, the
        next synced commit makes it durable too.  For writes whose loss costs nothing but a
        reload (a new battle), never for votes.
        """
        fairy = self.engine.raw_connection()
        raw: Any = fairy.dbapi_connection
        try:
            if self.sqlite:
                if relaxed:
                    raw.execute("PRAGMA synchronous=NORMAL")
                self._begin_immediate(raw)
            elif relaxed:
                raw.execute("SET LOCAL synchronous_commit = off")
            yield raw
            if self.sqlite:
                raw.execute("COMMIT")
            else:
                raw.commit()
        except BaseException:
            try:
                if not self.sqlite:
                    raw.rollback()
                elif raw.in_transaction:
                    raw.execute("ROLLBACK")
            except self.errors:
                fairy.invalidate()
            raise
        finally:
            if relaxed and self.sqlite:
                raw.execute(f"PRAGMA synchronous={self.sqlite_synchronous}")
            fairy.close()

    def read(self, text: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Rows of one query (SQLite: autocommit read; PostgreSQL: one short transaction)."""
        fairy = self.engine.raw_connection()
        raw: Any = fairy.dbapi_connection
        try:
            rows = raw.execute(text, params).fetchall()
            if not self.sqlite:
                raw.rollback()
            return list(rows)
        finally:
            fairy.close()

    # ---- rate limits ------------------------------------------------------------------
    def prelock(self, raw: Any, keys: list[str]) -> None:
        """Lock the current window's counters of ``keys`` in sorted order (PostgreSQL)."""
        if not self.sqlite:
            raw.execute(_PRELOCK_PG, (int(time.time() // WINDOW), keys))

    def check_limits(self, raw: Any, limits: Limits) -> None:
        """Count one event on each counter; raise :class:`RateLimited` when one is full.

        Run inside the write's transaction (savepoint): a refusal rolls the counts back too.
        """
        if not limits:
            return
        now = time.time()
        win = int(now // WINDOW)
        weight = 1.0 - (now / WINDOW - win)
        if win > self._swept:  # once a minute per process: forget windows before the last
            raw.execute(self.sql(_SWEEP), (win - 1,))
            self._swept = win
        bump, previous = self.sql(_BUMP), self.sql(_PREVIOUS)
        for key, limit in limits:
            n = int(raw.execute(bump, (key, win)).fetchone()[0])
            prev = raw.execute(previous, (key, win - 1)).fetchone()
            if (n - 1) + math.ceil((int(prev[0]) if prev else 0) * weight) >= limit:
                raise RateLimited(key)
