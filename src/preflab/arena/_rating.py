r"""Live Bradley-Terry ratings from the arena's pair counts, warm-started between refits.

The arena keeps, per unordered pair ``(i, j)``, the counts of i-wins, j-wins and ties (both
kinds).  With ties as half a win each side (as Chatbot Arena does [Chiang24]_), the
Bradley-Terry log-likelihood of log-strengths :math:`s` is

.. math:: \ell(s) = \sum_{i<j} y_{ij}\log\sigma(s_i-s_j) + (n_{ij}-y_{ij})\log\sigma(s_j-s_i)
          - \tfrac{\lambda}{2}\lVert s\rVert^2,

:math:`y_{ij}` = i-wins + ties/2, :math:`n_{ij}` all games [BT52]_.  A small ridge
:math:`\lambda` keeps the live board finite when a model has won (or lost) every game so far
or the comparison graph is still disconnected; the offline ``preflab rank`` makes that choice
explicit instead.  Newton's method (``preflab.rank``'s solver) converges in a few steps, and one
or two from the previous solution (a warm start) after a handful of new votes.

Standard errors come from the observed information :math:`(L+\lambda I)^{-1}` (``L`` the
Laplacian weighted by :math:`n_{ij}p_{ij}(1-p_{ij})`); intervals on the leaderboard come from
a Poisson bootstrap of the counts (each pair's outcome counts reweighted by Poisson(1) draws),
which is the count-level equivalent of resampling battles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from preflab.rank._bradley_terry import PairStats, newton_fit
from preflab.rank._indexing import laplacian

FloatArray = NDArray[np.float64]
ELO_SCALE = 400.0 / math.log(10.0)


@dataclass(frozen=True, slots=True)
class PairCounts:
    """Counts per unordered pair: ``pairs`` (k, 2) model indices, ``wins`` (k, 2), ``ties`` (k,)."""

    models: tuple[str, ...]
    pairs: NDArray[np.int64]
    wins: FloatArray
    ties: FloatArray

    @classmethod
    def from_rows(cls, rows: list[tuple[str, str, int, int, int, int]],
                  models: tuple[str, ...] | None = None) -> PairCounts:
        """From ``(model_a, model_b, a_wins, b_wins, ties, bothbad)`` rows."""
        names = set(models or ())
        for r in rows:
            names.update(r[:2])
        ordered = tuple(sorted(names))
        index = {m: i for i, m in enumerate(ordered)}
        n = len(rows)  # flat iterators: nested lists make numpy ~10x slower here
        pairs = np.fromiter((index[name] for r in rows for name in r[:2]), dtype=np.int64,
                            count=2 * n).reshape(n, 2)
        counts = np.fromiter((x for r in rows for x in r[2:6]), dtype=np.float64,
                             count=4 * n).reshape(n, 4)
        return cls(ordered, pairs, counts[:, :2].copy(), counts[:, 2] + counts[:, 3])

    @property
    def games(self) -> FloatArray:
        out: FloatArray = self.wins.sum(axis=1) + self.ties
        return out

    def model_games(self) -> FloatArray:
        out = np.zeros(len(self.models))
        np.add.at(out, self.pairs[:, 0], self.games)
        np.add.at(out, self.pairs[:, 1], self.games)
        return out


def bt_newton(pairs: NDArray[np.int64], y: FloatArray, n: FloatArray, n_models: int, *,
              prior: float = 0.01, init: FloatArray | None = None, tol: float = 1e-9,
              max_iter: int = 100) -> tuple[FloatArray, FloatArray]:
    r"""Maximise the ridge-penalised Bradley-Terry likelihood by Newton's method.

    Parameters
    ----------
    pairs : (k, 2) model indices; y : first-model wins (ties counted as half), n : games.
    prior : ridge :math:`\lambda` (> 0 keeps every problem well posed).
    init : warm start (log-strengths); zeros when ``None``.

    Returns
    -------
    scores : log-strengths (mean zero).
    se : standard errors from the inverse observed information.
    """
    if prior <= 0:
        raise ValueError("prior must be > 0 for the live board")
    if n_models == 0:
        return np.zeros(0), np.zeros(0)
    start = None if init is None or len(init) != n_models else init
    st = PairStats.of_pairs(n_models, pairs, y, n)
    # the reference solver of preflab.rank (tol there bounds the squared last step)
    s, _ = newton_fit(st, prior, start, tol * tol, max_iter)
    p = expit(s[st.pairs[:, 0]] - s[st.pairs[:, 1]])
    hess = laplacian(st.pairs, st.total * p * (1.0 - p), n_models) + prior * np.eye(n_models)
    se = np.sqrt(np.clip(np.diag(np.linalg.inv(hess)), 0.0, None))
    return s, se


@dataclass(frozen=True, slots=True)
class Board:
    """A leaderboard: Elo-scale ratings (base 1000), 95% intervals, rank intervals and games."""

    models: tuple[str, ...]
    rating: FloatArray
    ci: FloatArray  # (m, 2)
    rank_lb: NDArray[np.int64]
    rank_ub: NDArray[np.int64]
    games: FloatArray
    scores: FloatArray  # log-strengths (mean zero), for matchmaking
    se: FloatArray
    n_votes: int
    n_rounds: int

    def order(self) -> list[int]:
        return sorted(range(len(self.models)), key=lambda k: -self.rating[k])


def fit_board(counts: PairCounts, *, prior: float = 0.01, init: FloatArray | None = None,
              n_rounds: int = 200, rng: np.random.Generator | int | None = 0) -> Board:
    """Fit the live board: point estimate (warm-started), Poisson-bootstrap CIs and rank CIs."""
    gen = np.random.default_rng(rng)
    m = len(counts.models)
    n = counts.games
    y = counts.wins[:, 0] + 0.5 * counts.ties
    scores, se = bt_newton(counts.pairs, y, n, m, prior=prior, init=init)
    rating = 1000.0 + ELO_SCALE * scores
    if n_rounds > 0 and len(n):
        boot = np.empty((n_rounds, m))
        w1, w2, t = counts.wins[:, 0], counts.wins[:, 1], counts.ties
        for b in range(n_rounds):
            # Poisson(1) weights per battle, summed within each (pair, outcome) cell.
            a1 = gen.poisson(w1).astype(float)
            a2 = gen.poisson(w2).astype(float)
            tt = gen.poisson(t).astype(float)
            boot[b] = bt_newton(counts.pairs, a1 + 0.5 * tt, a1 + a2 + tt, m,
                                prior=prior, init=scores)[0]
        boot_r = 1000.0 + ELO_SCALE * boot
        ci = np.quantile(boot_r, [0.025, 0.975], axis=0).T
        ranks = (-boot_r).argsort(axis=1).argsort(axis=1) + 1
        rank_lb = np.quantile(ranks, 0.025, axis=0, method="lower").astype(np.int64)
        rank_ub = np.quantile(ranks, 0.975, axis=0, method="higher").astype(np.int64)
    else:
        half = 1.96 * ELO_SCALE * se
        ci = np.stack([rating - half, rating + half], axis=1)
        rank_lb = np.ones(m, dtype=np.int64)
        rank_ub = np.full(m, m, dtype=np.int64)
    return Board(counts.models, rating, ci, rank_lb, rank_ub, counts.model_games(), scores, se,
                 int(round(float(n.sum()))), n_rounds)
