"""The arena's database: SQLAlchemy Core over SQLite (default) or PostgreSQL (by URL).

Tables
------
``responses``  the content, keyed by ``(prompt_id, model)`` (the responses table of DESIGN.md).
``battles``    one row per battle shown to a voter: the models in display order, never sent
               to the page before the vote; ``status`` goes ``open`` -> ``voted``/``skipped``
               exactly once (single-use tokens rest on that conditional update).
``votes``      pairwise verdicts (the comparisons table), one per battle.
``rankings``   K-wise orderings (the rankings table), one per battle.
``pair_stats`` sufficient statistics for Bradley-Terry, maintained in the same transaction
               as each vote: per unordered pair ``(a < b)`` the counts of a-wins, b-wins,
               ties and both-bad ties.  The live leaderboard refits from these few rows.
``meta``       key/value: the signing secret shared by all workers, content version.
``rate``       rate-limit counters per key and one-minute window, shared by all workers
               (see ``_raw``).

Durability: a vote is acknowledged only after its transaction commits.  SQLite runs in WAL
mode with ``synchronous=FULL`` so each commit is fsynced to the WAL before the commit returns:
it survives ``kill -9`` of the server (the WAL is in the OS page cache either way) *and* a
power loss or OS crash (which ``synchronous=NORMAL`` in WAL mode would not: NORMAL only syncs
at checkpoints, so the last transactions can roll back after a power cut).  Write transactions
start with ``BEGIN IMMEDIATE`` so concurrent workers queue on ``busy_timeout`` instead of
failing with "database is locked" on a read-to-write upgrade.  Battles, votes and rankings
are written through a per-process group commit (``_commit``): concurrent writes share one
transaction and one fsync, and each request is answered only after that commit.  Those hot
writes (``_battles``), and the voter-history read, use the driver directly (``_raw``).

A new battle (the row behind a vote page) is committed *without* waiting for the disk: on
SQLite that transaction runs with ``synchronous=NORMAL``, on PostgreSQL with
``synchronous_commit=off``.  It still survives ``kill -9``; a power cut can lose it, which
costs the voter a reload (their vote is then refused as for an unknown battle).  Votes are
always synced, and syncing the log syncs every earlier battle with it, so an acknowledged
vote never refers to a lost battle.  This halves the fsyncs per vote cycle.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from preflab._errors import DataError, PreflabError
from preflab.arena._battles import OUTCOMES, BattleWrites, _models
from preflab.arena._battles import Battle as Battle  # re-exported
from preflab.arena._battles import BattleUsed as BattleUsed  # re-exported
from preflab.arena._commit import GroupCommit
from preflab.arena._raw import RawDB

metadata = sa.MetaData()

meta_t = sa.Table(
    "arena_meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
responses_t = sa.Table(
    "arena_responses", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prompt_id", sa.String(200), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("text", sa.Text),
    sa.Column("prompt", sa.Text),
    sa.Column("image", sa.Text),
    sa.Column("category", sa.String(200)),
    sa.UniqueConstraint("prompt_id", "model", name="uq_arena_responses_prompt_model"),
)
battles_t = sa.Table(
    "arena_battles", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("voter", sa.String(64), nullable=False, index=True),
    sa.Column("prompt_id", sa.String(200), nullable=False),
    sa.Column("models", sa.Text, nullable=False),  # JSON list, display order
    sa.Column("status", sa.String(8), nullable=False, default="open"),
    sa.Column("created", sa.Float, nullable=False),
)
# the voter's newest battles (history read on every page) come from one index range
battles_voter_created = sa.Index("ix_arena_battles_voter_created", battles_t.c.voter,
                                 battles_t.c.created)
votes_t = sa.Table(
    "arena_votes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("battle_id", sa.String(32), nullable=False, unique=True),
    sa.Column("voter", sa.String(64), nullable=False),
    sa.Column("prompt_id", sa.String(200), nullable=False),
    sa.Column("model_a", sa.String(200), nullable=False),
    sa.Column("model_b", sa.String(200), nullable=False),
    sa.Column("winner", sa.String(16), nullable=False),
    sa.Column("tstamp", sa.Float, nullable=False),
)
rankings_t = sa.Table(
    "arena_rankings", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("battle_id", sa.String(32), nullable=False, unique=True),
    sa.Column("voter", sa.String(64), nullable=False),
    sa.Column("prompt_id", sa.String(200), nullable=False),
    sa.Column("models", sa.Text, nullable=False),  # JSON list of groups, best first
    sa.Column("tstamp", sa.Float, nullable=False),
)
pair_stats_t = sa.Table(
    "arena_pair_stats", metadata,
    sa.Column("model_a", sa.String(200), primary_key=True),
    sa.Column("model_b", sa.String(200), primary_key=True),
    sa.Column("a_wins", sa.Integer, nullable=False, default=0),
    sa.Column("b_wins", sa.Integer, nullable=False, default=0),
    sa.Column("ties", sa.Integer, nullable=False, default=0),
    sa.Column("bothbad", sa.Integer, nullable=False, default=0),
)

rate_t = sa.Table(
    "arena_rate", metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("win", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("n", sa.Integer, nullable=False),
)



def make_engine(url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 8) -> Engine:
    """An engine for ``url`` with the arena's durability settings (see the module docstring)."""
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            raise PreflabError(
                "an in-memory SQLite database cannot be shared by workers or survive a restart.\n"
                "Use a file: --db sqlite:///arena.sqlite"
            )
        engine = sa.create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=pool_size, max_overflow=pool_size,
        )
        sync = sqlite_synchronous.upper()
        if sync not in ("FULL", "NORMAL", "EXTRA"):
            raise PreflabError(f"sqlite_synchronous must be FULL, NORMAL or EXTRA, not {sync!r}")

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sync}")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            if conn.get_execution_options().get("write"):
                _begin_immediate(conn.connection.dbapi_connection)
            else:
                conn.exec_driver_sql("BEGIN DEFERRED")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _begin_immediate(raw: Any, timeout: float = 30.0) -> None:
    """``BEGIN IMMEDIATE``, retried every 0.5-5 ms while another process holds the lock.

    SQLite's own busy handler backs off to sleeps of 25-100 ms, which becomes the tail latency
    when two workers write all the time; polling briefly keeps the hand-over fast.
    """
    raw.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                text = str(exc)
                if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 1.5, 0.005)
    finally:
        raw.execute("PRAGMA busy_timeout=30000")


_PAIR_STATS = ("SELECT model_a, model_b, " + ", ".join(OUTCOMES)
               + " FROM arena_pair_stats ORDER BY model_a, model_b")


class Store(BattleWrites):
    """All database access of the arena.  Thread-safe (one connection per call)."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL") -> None:
        self.url = url
        self.engine = make_engine(url, sqlite_synchronous=sqlite_synchronous)
        self.dialect = self.engine.dialect.name
        try:
            metadata.create_all(self.engine)
        except sa.exc.DBAPIError:  # another worker created the tables at the same moment
            time.sleep(0.2)
            metadata.create_all(self.engine)
        try:  # databases made before this index existed
            battles_voter_created.create(self.engine, checkfirst=True)
        except sa.exc.DBAPIError:  # another worker created it at the same moment
            pass
        self.raw = RawDB(self.engine, _begin_immediate,
                         sqlite_synchronous=sqlite_synchronous.upper())
        self._group = GroupCommit(self.raw.write, self._bump, db_errors=self.raw.errors,
                                  prelock=self.raw.prelock)
        # new battles: committed without waiting for the disk (see the module docstring)
        self._battle_group = GroupCommit(lambda: self.raw.write(relaxed=True), self._bump,
                                         db_errors=self.raw.errors, prelock=self.raw.prelock)

    def dispose(self) -> None:
        self._group.close()
        self._battle_group.close()
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; committed (and on SQLite fsynced) when the block exits."""
        with self.engine.connect().execution_options(write=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _insert(self, table: sa.Table) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert
            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        return sqlite_insert(table)

    # ---- meta -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self.read() as c:
            return c.execute(sa.select(meta_t.c.value).where(meta_t.c.key == key)).scalar()

    def set_meta(self, key: str, value: str, conn: Connection | None = None) -> None:
        stmt = self._insert(meta_t).values(key=key, value=value)
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value})
        if conn is not None:
            conn.execute(stmt)
            return
        with self.write() as c:
            c.execute(stmt)

    def shared_secret(self) -> str:
        """The signing secret shared by every worker: created once, kept in ``arena_meta``."""
        with self.write() as c:
            stmt = self._insert(meta_t).values(key="secret", value=secrets.token_hex(32))
            c.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
            value = c.execute(sa.select(meta_t.c.value).where(meta_t.c.key == "secret")).scalar()
        assert value is not None
        return str(value)

    # ---- content ----------------------------------------------------------------------
    def load_responses(self, rows: Sequence[dict[str, Any]], *, replace: bool = False,
                       source: str = "responses") -> int:
        """Insert response rows (already validated); ``replace`` clears the old content first.

        A ``(prompt_id, model)`` already in the database is an error unless ``replace``.
        """
        with self.write() as c:
            if replace:
                c.execute(responses_t.delete())
            else:
                existing = set(c.execute(sa.select(responses_t.c.prompt_id, responses_t.c.model)))
                for i, r in enumerate(rows):
                    if (r["prompt_id"], r["model"]) in existing:
                        raise DataError(
                            f"response ({r['prompt_id']!r}, {r['model']!r}) is already loaded",
                            path=source, row=i, field="prompt_id",
                            fix="Load with --replace to swap the arena's content.",
                        )
            if rows:
                c.execute(responses_t.insert(), list(rows))
            self.set_meta("content_version", secrets.token_hex(8), conn=c)
        return len(rows)

    def content_version(self) -> str:
        return self.get_meta("content_version") or ""

    def catalog(self) -> list[tuple[int, str, str]]:
        """``(response id, prompt_id, model)`` for every loaded response."""
        with self.read() as c:
            q = sa.select(responses_t.c.id, responses_t.c.prompt_id, responses_t.c.model)
            return [(int(r[0]), str(r[1]), str(r[2])) for r in c.execute(q)]

    def responses_for(self, prompt_id: str, models: Sequence[str]) -> dict[str, dict[str, Any]]:
        with self.read() as c:
            q = sa.select(responses_t).where(
                responses_t.c.prompt_id == prompt_id, responses_t.c.model.in_(list(models)))
            return {r.model: dict(r._mapping) for r in c.execute(q)}

    # ---- battles ----------------------------------------------------------------------
    def get_battle(self, battle_id: str) -> Battle | None:
        with self.read() as c:
            r = c.execute(sa.select(battles_t).where(battles_t.c.id == battle_id)).first()
        if r is None:
            return None
        return Battle(r.id, r.voter, r.prompt_id, _models(r.models), r.status, r.created)

    # ---- statistics and export -------------------------------------------------------
    def pair_stats(self) -> list[tuple[str, str, int, int, int, int]]:
        """``(model_a, model_b, a_wins, b_wins, ties, bothbad)`` per unordered pair."""
        return self.raw.read(_PAIR_STATS, ())

    def votes(self) -> list[dict[str, Any]]:
        with self.read() as c:
            return [dict(r._mapping) for r in c.execute(sa.select(votes_t).order_by(votes_t.c.id))]

    def rankings(self) -> list[dict[str, Any]]:
        with self.read() as c:
            q = sa.select(rankings_t).order_by(rankings_t.c.id)
            return [dict(r._mapping) for r in c.execute(q)]

    def counts(self) -> dict[str, int]:
        with self.read() as c:
            return {name: int(c.execute(sa.select(sa.func.count()).select_from(t)).scalar() or 0)
                    for name, t in (("responses", responses_t), ("battles", battles_t),
                                    ("votes", votes_t), ("rankings", rankings_t))}

    def reset(self, *, content: bool = False) -> None:
        """Delete votes, rankings, battles and counts, and live-mode battle records ``live:*``
        (and the content with ``content=True``)."""
        with self.write() as c:
            for t in (votes_t, rankings_t, battles_t, pair_stats_t):
                c.execute(t.delete())
            c.execute(meta_t.delete().where(meta_t.c.key.startswith("live:")))
            if content:
                c.execute(responses_t.delete())
                self.set_meta("content_version", secrets.token_hex(8), conn=c)
