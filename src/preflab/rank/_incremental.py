r"""Incremental boards: sufficient statistics on disk (SQLite), appends, warm-started refits.

A :class:`Board` keeps every count cell ``(model_a, model_b, outcome, unit weight) → (summed
weight, rows)`` in a SQLite file, so it survives restarts and several readers can share it,
and mirrors the two matrices Bradley–Terry needs in memory:

.. math:: G_{ij} = \text{weighted comparisons of } i \text{ and } j, \qquad
          A_{ij} = \text{weighted wins of } i \text{ over } j \ (\text{a tie is } ½),

with log-likelihood ``Σ_{i<j} A_{ij} log σ(s_i - s_j) + A_{ji} log σ(s_j - s_i)``. An append
adds its counts to both (``O(new cells)``); :meth:`Board.fit` runs Newton's method from the
previous scores, which after a small append converges in one or two steps (each a dense
``m × m`` Cholesky solve: milliseconds for a few hundred models). The result equals a full refit
on all comparisons (tested).
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import numpy as np
import pyarrow as pa

from preflab._errors import DataError, ModelError
from preflab.rank._bradley_terry import PairStats, newton_fit
from preflab.rank._counts import PairCounts, pair_counts
from preflab.rank._ratings import FloatArray, Ratings, to_scale

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
  a INTEGER NOT NULL, b INTEGER NOT NULL, outcome REAL NOT NULL, unit REAL NOT NULL,
  w REAL NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (a, b, outcome, unit));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


_CONTROLLER: list[object] = []


def _one_thread() -> AbstractContextManager[object]:
    """Small dense solves are slower with several BLAS threads on a busy machine.

    Uses threadpoolctl when installed (one cached controller: creating it scans the loaded
    libraries, too slow to repeat inside iterations); otherwise does nothing.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # optional
        return nullcontext()
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")  # type: ignore[attr-defined,no-any-return]


def dense_bt_newton(wins: FloatArray, games: FloatArray, *, init: FloatArray | None = None,
                    prior: float = 0.0, tol: float = 1e-9, max_iter: int = 100
                    ) -> tuple[FloatArray, int]:
    """BT MLE from the dense win matrix ``A`` and symmetric games matrix ``G``.

    ``A[i, j]`` is i's (weighted) wins over j, ties counting half. Solved by the reference
    Newton method (:func:`preflab.rank._bradley_terry.newton_fit`) on the pairs that met.
    Returns the centred scores and the number of Newton steps taken.
    """
    m = wins.shape[0]
    if prior == 0:
        total = wins.sum(axis=1)
        bad = np.flatnonzero((total <= 0) | (total >= games.sum(axis=1)))
        if bad.size:
            raise ModelError(f"Bradley–Terry MLE diverges: model index {int(bad[0])} has only "
                             "wins or only losses (or no comparisons); use a prior")
    i, j = np.nonzero(np.triu(games, 1) > 0)
    st = PairStats.of_pairs(m, np.column_stack([i, j]), wins[i, j], games[i, j])
    with _one_thread():
        return newton_fit(st, prior, init, tol * tol, max_iter)


class Board:
    """A leaderboard whose counts live in a SQLite file; append comparisons, refit fast.

    Examples
    --------
    >>> board = Board.create("arena.board", ties="half")
    >>> board.append(new_battles)          # a comparisons table or PairCounts
    >>> ratings = board.fit(anchor=("gpt-4-0314", 1000))
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise DataError("no board here", path=str(path),
                            fix="Create it first: preflab board init BOARD")
        self._con = sqlite3.connect(self.path)
        self._con.executescript(_SCHEMA)
        meta = dict(self._con.execute("SELECT key, value FROM meta").fetchall())
        if "ties" not in meta:
            raise DataError("not a preflab board", path=str(path),
                            fix="Create boards with `preflab board init`.")
        self.ties: str = meta["ties"]
        self._scores: dict[str, float] = json.loads(meta.get("scores", "{}"))
        self.names: list[str] = [r[0] for r in self._con.execute(
            "SELECT name FROM models ORDER BY id")]
        self._index = {n: i for i, n in enumerate(self.names)}
        m = len(self.names)
        self._wins = np.zeros((m, m))
        self._games = np.zeros((m, m))
        self._rows = 0
        rows = self._con.execute("SELECT a, b, outcome, w, n FROM cells").fetchall()
        if rows:
            arr = np.array(rows, dtype=np.float64)
            self._add(arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2],
                      arr[:, 3])
            self._rows = int(arr[:, 4].sum())
        self.last_fit_seconds = 0.0
        self.last_iterations = 0

    @classmethod
    def create(cls, path: str | Path, *, ties: str = "half", exist_ok: bool = False) -> Board:
        """A new empty board at ``path`` (``ties``: ``"half"`` or ``"drop"``)."""
        p = Path(path)
        if ties not in ("half", "drop"):
            raise ModelError(f"boards support ties='half' or 'drop', not '{ties}'")
        if p.exists():
            if not exist_ok:
                raise DataError("a file already exists here", path=str(p),
                                fix="Pick another path or open it with Board(path).")
            return cls(p)
        con = sqlite3.connect(p)
        con.executescript(_SCHEMA)
        con.execute("INSERT INTO meta VALUES ('ties', ?), ('created', ?)",
                    (ties, str(time.time())))
        con.commit()
        con.close()
        return cls(p)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Board:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def n_comparisons(self) -> int:
        return self._rows

    def _grow(self, m: int) -> None:
        old = self._wins.shape[0]
        if m > old:
            for name in ("_wins", "_games"):
                big = np.zeros((m, m))
                big[:old, :old] = getattr(self, name)
                setattr(self, name, big)

    def _add(self, a: np.ndarray, b: np.ndarray, y: FloatArray, w: FloatArray) -> None:
        self._grow(len(self.names))
        np.add.at(self._wins, (a, b), w * y)
        np.add.at(self._wins, (b, a), w * (1 - y))
        np.add.at(self._games, (a, b), w)
        np.add.at(self._games, (b, a), w)

    def append(self, data: pa.Table | str | Path | PairCounts) -> int:
        """Add comparisons (a table, a file, or counts); returns the number of rows added."""
        counts = data if isinstance(data, PairCounts) else pair_counts(data, ties=self.ties)
        if self.ties == "drop":
            counts = counts.drop_ties()
        new = [m for m in counts.models if m not in self._index]
        with self._con:
            for name in new:
                self._index[name] = len(self.names)
                self.names.append(name)
                self._con.execute("INSERT INTO models VALUES (?, ?)",
                                  (self._index[name], name))
            remap = np.array([self._index[m] for m in counts.models], dtype=np.int64)
            a, b = remap[counts.matchups[:, 0]], remap[counts.matchups[:, 1]]
            unit = np.divide(counts.weights, counts.rows, out=np.ones_like(counts.weights),
                             where=counts.rows > 0)
            self._con.executemany(
                "INSERT INTO cells VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (a, b, outcome, unit) "
                "DO UPDATE SET w = w + excluded.w, n = n + excluded.n",
                zip(a.tolist(), b.tolist(), counts.outcomes.tolist(), unit.tolist(),
                    counts.weights.tolist(), counts.rows.astype(np.int64).tolist(),
                    strict=True))
        self._add(a, b, counts.outcomes, counts.weights)
        added = int(counts.rows.sum())
        self._rows += added
        return added

    def counts(self) -> PairCounts:
        """All counts as :class:`PairCounts` (models sorted by name, as ``pair_counts``)."""
        rows = self._con.execute("SELECT a, b, outcome, unit, w, n FROM cells").fetchall()
        order = sorted(range(len(self.names)), key=lambda i: self.names[i])
        pos = np.empty(len(self.names), dtype=np.int64)
        pos[order] = np.arange(len(order))
        arr = np.array(rows, dtype=np.float64).reshape(-1, 6)
        mu = pos[arr[:, :2].astype(np.int64)]
        key = np.lexsort((arr[:, 3], arr[:, 2], mu[:, 1], mu[:, 0]))
        return PairCounts(tuple(self.names[i] for i in order), mu[key], arr[key, 2],
                          arr[key, 4], arr[key, 5], self._rows)

    def fit(self, *, anchor: tuple[str, float] | None = None, scale: str = "elo",
            prior: float = 0.0) -> Ratings:
        """Bradley–Terry ratings of everything appended so far, warm-started (module docs)."""
        if not self.names:
            raise DataError("the board is empty", path=str(self.path),
                            fix="Append comparisons first: preflab board append BOARD FILE")
        t0 = time.perf_counter()
        init = np.array([self._scores.get(n, 0.0) for n in self.names])
        s, it = dense_bt_newton(self._wins, self._games, init=init, prior=prior)
        self.last_fit_seconds = time.perf_counter() - t0
        self.last_iterations = it
        self._scores = dict(zip(self.names, s.tolist(), strict=True))
        with self._con:
            self._con.execute("INSERT OR REPLACE INTO meta VALUES ('scores', ?)",
                              (json.dumps(self._scores),))
        models = tuple(self.names)
        n = self._games.sum(axis=1)
        wr = np.divide(self._wins.sum(axis=1), n, out=np.zeros(len(n)), where=n > 0)
        return Ratings(models, to_scale(s, models, scale=scale, anchor=anchor),
                       method="bradley_terry", scale=scale, anchor=anchor, n=n, win_rate=wr,
                       n_comparisons=self._rows,
                       params={"ties": self.ties, "prior": prior, "newton_steps": it})
