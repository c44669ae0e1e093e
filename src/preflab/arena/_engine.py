"""The arena's logic between HTTP and the database: content catalog, live board, next battle.

Each worker process keeps a catalog of the loaded content (refreshed when the content version
in the database changes) and a live board refitted from the pair counts at most every
``refit_interval`` seconds, warm-started from the previous fit.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from preflab.arena._config import ArenaConfig
from preflab.arena._history import Seen, VoterHistory
from preflab.arena._matchmaking import choose_models, pair_weights
from preflab.arena._rating import Board, PairCounts, fit_board
from preflab.arena._store import Battle, Store

log = logging.getLogger(__name__)

LIVE_PREFIX = "live-"  # prompt_id of prompts typed in live mode (see _live)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Which models answered which prompts."""

    version: str
    models: tuple[str, ...]
    prompts: dict[str, frozenset[int]]  # prompt_id -> model indices
    together: NDArray[np.int64]  # (m, m) number of prompts both models answered
    index: dict[str, int]  # model -> index

    @classmethod
    def build(cls, rows: list[tuple[int, str, str]], version: str) -> Catalog:
        """Every model that has a response; prompts from loaded content only.

        A live-mode prompt (``prompt_id`` starting ``live-``) is one voter's own text: its
        models count (their votes are on the board) but it is never served to other voters.
        """
        models = tuple(sorted({m for _, _, m in rows}))
        index = {m: i for i, m in enumerate(models)}
        prompts: dict[str, set[int]] = {}
        for _, p, m in rows:
            if not p.startswith(LIVE_PREFIX):
                prompts.setdefault(p, set()).add(index[m])
        together = np.zeros((len(models), len(models)), dtype=np.int64)
        for ms in prompts.values():
            ids = np.fromiter(ms, dtype=np.int64)
            together[np.ix_(ids, ids)] += 1
        np.fill_diagonal(together, 0)
        return cls(version, models, {p: frozenset(s) for p, s in prompts.items()}, together,
                   index)


class Arena:
    """Shared state of one worker: store, catalog, boards and the random generator."""

    def __init__(self, config: ArenaConfig, store: Store | None = None) -> None:
        self.config = config
        self.store = store or Store(config.db, sqlite_synchronous=config.sqlite_synchronous)
        self._lock = threading.Lock()
        self._rng = np.random.default_rng()
        self._catalog: Catalog | None = None
        self._catalog_checked = 0.0
        self._responses: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._fast: Board | None = None
        self._fast_at = 0.0
        self._games: tuple[str, NDArray[np.float64]] = ("", np.zeros((0, 0)))
        self._full: Board | None = None
        self._full_key: tuple[object, ...] = ()
        self._full_at = 0.0
        self.history = VoterHistory(self.store.battle_rows)
        # matchmaking inputs derived from the fast board, rebuilt when it is refitted
        self._weights: tuple[object, ...] = ()
        self._prompts_of: dict[tuple[str, frozenset[int]], list[str]] = {}

    # ---- content ----------------------------------------------------------------------
    def catalog(self) -> Catalog:
        now = time.monotonic()
        with self._lock:
            if self._catalog is not None and now - self._catalog_checked < 2.0:
                return self._catalog
        version = self.store.content_version()
        with self._lock:
            self._catalog_checked = now
            if self._catalog is not None and self._catalog.version == version:
                return self._catalog
        cat = Catalog.build(self.store.catalog(), version)
        with self._lock:
            self._catalog = cat
        return cat

    def responses(self, prompt_id: str, models: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        """Response rows for one battle, cached per content version (the content is static)."""
        cat = self.catalog()
        version = cat.version
        missing = [m for m in models if (version, prompt_id, m) not in self._responses]
        if missing:  # fetch the prompt's responses (up to 64 models) with one query
            known = [cat.models[i] for i in sorted(cat.prompts.get(prompt_id, ()))]
            missing = sorted(set(missing) | set(known[:64]))
            rows = self.store.responses_for(prompt_id, missing)
            with self._lock:
                if len(self._responses) > 20_000:
                    self._responses.clear()
                for m in missing:
                    self._responses[(version, prompt_id, m)] = rows.get(m, {})
        return {m: self._responses.get((version, prompt_id, m), {}) for m in models}

    # ---- ratings ----------------------------------------------------------------------
    def fast_board(self) -> Board:
        """Point estimates and standard errors (no bootstrap) for matchmaking.

        Refitted at most every ``refit_interval`` seconds, in a background thread once a
        board exists (the vote page never waits for a refit; it uses the previous board).
        """
        now = time.monotonic()
        with self._lock:
            board = self._fast
            if board is not None and now - self._fast_at < self.config.refit_interval:
                return board
            self._fast_at = now  # one refit at a time; others use the previous board
        if board is None:
            return self._refit_fast(None)
        threading.Thread(target=self._refit_in_background, args=(board,), name="arena-refit",
                         daemon=True).start()
        return board

    def _refit_in_background(self, board: Board) -> None:
        try:
            self._refit_fast(board)
        except Exception:  # noqa: BLE001 - keep serving the previous board; retried later
            log.warning("live board refit failed; keeping the previous board", exc_info=True)

    def _refit_fast(self, board: Board | None) -> Board:
        rows = self.store.pair_stats()
        cat = self.catalog()
        counts = PairCounts.from_rows(rows, cat.models)
        new = fit_board(counts, init=_align(board, counts.models), n_rounds=0)
        games = _games_matrix(rows, {name: i for i, name in enumerate(cat.models)})
        with self._lock:
            self._fast, self._games = new, (cat.version, games)
        return new

    def full_board(self) -> Board:
        """The leaderboard with bootstrap intervals; refitted when the counts changed."""
        rows = self.store.pair_stats()
        key = (tuple(rows), self.catalog().version)
        now = time.monotonic()
        with self._lock:
            if self._full is not None and (key == self._full_key or now - self._full_at < 5.0):
                return self._full
        counts = PairCounts.from_rows(rows, self.catalog().models)
        new = fit_board(counts, init=_align(self._fast, counts.models),
                        n_rounds=self.config.bootstrap_rounds, rng=0)
        with self._lock:
            self._full, self._full_key, self._full_at = new, key, now
        return new

    # ---- matchmaking -----------------------------------------------------------------
    def seen(self, voter: str) -> tuple[Seen, Battle | None]:
        """What ``voter`` was shown (cached, read incrementally) and their newest battle."""
        cat = self.catalog()
        return self.history.refresh(voter, cat.version, cat.index, cat.together)

    def _inputs(self, cat: Catalog) -> tuple[NDArray[np.float64] | None, ...]:
        """Scores, standard errors, games and pair weights aligned to the catalog's models."""
        board = self.fast_board()
        cached = self._weights
        if cached and cached[0] is board and cached[1] == cat.version:
            return cached[2:]  # type: ignore[return-value]
        m = len(cat.models)
        bi = {name: i for i, name in enumerate(board.models)}
        sel = np.array([bi.get(name, -1) for name in cat.models])
        scores = np.where(sel >= 0, board.scores[sel], 0.0)
        se = np.where(sel >= 0, board.se[sel], 10.0)
        version, games_m = self._games
        games = games_m if version == cat.version and games_m.shape == (m, m) else None
        weights = pair_weights(scores, se, games) if games is not None else None
        self._weights = (board, cat.version, scores, se, games, weights)
        return scores, se, games, weights

    def plan_battle(self, seen: Seen) -> tuple[str, list[str]] | None:
        """The next battle's prompt and models in display order (``None``: nothing left)."""
        cat = self.catalog()
        k = self.config.k
        if len(cat.models) < k:
            return None
        available = seen.available(cat.together)
        scores, se, games, weights = self._inputs(cat)
        for _attempt in range(8):
            with self._lock:
                rng = np.random.default_rng(self._rng.integers(2**63))
            chosen = choose_models(
                available, k=k, mode=self.config.matchmaking, scores=scores, se=se, games=games,
                weights=weights, together=cat.together > 0, explore=self.config.explore,
                rng=rng)
            if chosen is None:
                return None
            fresh = [p for p in self._prompts(cat, frozenset(chosen))
                     if (p, frozenset(chosen)) not in seen.sets]
            if fresh:
                prompt_id = fresh[int(rng.integers(len(fresh)))]
                return prompt_id, [cat.models[i] for i in chosen]
            for x in chosen:  # every prompt of this set was seen: rule its pairs out
                for y in chosen:
                    if x != y and k == 2:
                        available[x, y] = False
        return None

    def _prompts(self, cat: Catalog, need: frozenset[int]) -> list[str]:
        """Prompts every model in ``need`` answered (memoised per content version)."""
        key = (cat.version, need)
        found = self._prompts_of.get(key)
        if found is None:
            if len(self._prompts_of) > 50_000:
                self._prompts_of.clear()
            found = [p for p, ms in cat.prompts.items() if need <= ms]
            self._prompts_of[key] = found
        return found

    def next_battle(self, voter: str) -> Battle | None:
        """Create the voter's next battle (``None``: nothing left to show this voter)."""
        plan = self.plan_battle(self.seen(voter)[0])
        if plan is None:
            return None
        return self.store.create_battle(voter, *plan)


def _align(board: Board | None, models: tuple[str, ...]) -> NDArray[np.float64] | None:
    if board is None:
        return None
    pos = {name: i for i, name in enumerate(board.models)}
    return np.array([board.scores[pos[m]] if m in pos else 0.0 for m in models])


def _games_matrix(rows: list[tuple[str, str, int, int, int, int]],
                  index: dict[str, int]) -> NDArray[np.float64]:
    g = np.zeros((len(index), len(index)))
    known = [r for r in rows if r[0] in index and r[1] in index]
    n = len(known)
    ij = np.fromiter((index[name] for r in known for name in r[:2]), dtype=np.int64,
                     count=2 * n).reshape(n, 2)
    games = np.fromiter((sum(r[2:6]) for r in known), dtype=np.float64, count=n)
    g[ij[:, 0], ij[:, 1]] = games
    g[ij[:, 1], ij[:, 0]] = games
    return g
