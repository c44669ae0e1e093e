"""A SQLite answer cache that survives ``kill -9``.

Every answer is committed on its own transaction as soon as it arrives (WAL journal,
``synchronous=NORMAL``: a committed row survives the death of the process; only a power loss
can lose the last few). Only successful answers are stored, so failed calls are asked again
on the next run. The key is a hash of everything that determines the answer: model, messages,
sampling parameters and sample index (not the URL or the API key: the same model behind
another host shares answers).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def cache_key(
    model: str, messages: Sequence[dict[str, str]], params: dict[str, Any], sample: int
) -> str:
    """SHA-256 of the canonical JSON of (model, messages, params, sample)."""
    blob = json.dumps(
        {"model": model, "messages": list(messages), "params": params, "sample": sample},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A stored answer."""

    reply: str
    input_tokens: int
    output_tokens: int
    cost: float
    latency: float


_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    reply TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost REAL NOT NULL,
    latency REAL NOT NULL,
    created REAL NOT NULL
)"""


class AnswerCache:
    """SQLite-backed answer cache (one file; safe to reopen after a crash).

    Parameters
    ----------
    path:
        The database file, or ``":memory:"``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute(_SCHEMA)

    def get_many(self, keys: Iterable[str]) -> dict[str, CachedAnswer]:
        """The stored answers among ``keys``."""
        out: dict[str, CachedAnswer] = {}
        ks = list(dict.fromkeys(keys))
        for i in range(0, len(ks), 900):
            chunk = ks[i : i + 900]
            rows = self._db.execute(
                "SELECT key, reply, input_tokens, output_tokens, cost, latency FROM answers "
                f"WHERE key IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            for k, reply, n_in, n_out, cost, lat in rows:
                out[k] = CachedAnswer(reply, n_in, n_out, cost, lat)
        return out

    def put(self, key: str, model: str, answer: CachedAnswer) -> None:
        """Store one answer and commit it at once."""
        self._db.execute(
            "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                model,
                answer.reply,
                answer.input_tokens,
                answer.output_tokens,
                answer.cost,
                answer.latency,
                time.time(),
            ),
        )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def keys(self) -> set[str]:
        """All stored keys."""
        return {r[0] for r in self._db.execute("SELECT key FROM answers")}

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> AnswerCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
