r"""Bradley–Terry maximum likelihood on sufficient statistics.

Model [BT52]_: :math:`P(i \succ j) = \sigma(s_i - s_j) = 1 / (1 + e^{s_j - s_i})`.
With ``ties="half"`` a tie counts as half a win for each side, as Chatbot Arena does
[Chiang24]_; the log-likelihood of the counts is

.. math:: \ell(s) = \sum_{i<j} W_{ij} \log\sigma(s_i - s_j) + (N_{ij} - W_{ij})\log\sigma(s_j - s_i)
          - \tfrac{\lambda}{2}\lVert s\rVert^2

where :math:`N_{ij}` is the (weighted) number of comparisons of i and j and :math:`W_{ij}`
the wins of i (ties as half). It is concave; we maximise it by Newton's method with a
backtracking line search, solving :math:`(H + \mathbf{1}\mathbf{1}^\top)\,\delta = g` so that
the step keeps :math:`\sum_i s_i = 0` (the likelihood is invariant to a common shift).
Convergence is to machine precision, unlike early-stopping first-order solvers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from preflab._errors import ModelError
from preflab.rank._counts import PairCounts
from preflab.rank._ratings import FloatArray, IntArray

_DENSE_LIMIT = 2500  # models; beyond this Newton's dense Hessian gives way to L-BFGS


@dataclass(frozen=True, slots=True)
class PairStats:
    """Counts collapsed to unordered pairs ``i < j``: ``wins[p]`` of ``pairs[p, 0]``, ``total[p]``.

    ``cell_to_pair`` maps each cell of the source :class:`PairCounts` to its pair and
    ``cell_score`` is the share of a cell's weight that goes to the pair's first model, so a
    bootstrap replicate (new cell weights) collapses with two ``bincount`` calls.
    """

    n_models: int
    pairs: IntArray
    wins: FloatArray
    total: FloatArray
    cell_to_pair: IntArray
    cell_score: FloatArray

    @classmethod
    def from_counts(cls, counts: PairCounts) -> PairStats:
        a, b = counts.matchups[:, 0], counts.matchups[:, 1]
        if np.any(a == b):
            raise ModelError("a model is compared with itself; run `preflab validate` first")
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        score = np.where(a == lo, counts.outcomes, 1.0 - counts.outcomes)
        m = counts.n_models
        keys, inv = np.unique(lo * m + hi, return_inverse=True)
        inv = inv.reshape(-1)
        pairs = np.stack([keys // m, keys % m], axis=1)
        stats = cls(m, pairs, np.zeros(len(keys)), np.zeros(len(keys)), inv, score)
        return stats.with_weights(counts.weights)

    @classmethod
    def of_pairs(cls, n_models: int, pairs: IntArray, wins: FloatArray,
                 total: FloatArray) -> PairStats:
        """Statistics given directly per pair (each pair its own cell)."""
        k = len(pairs)
        return cls(n_models, np.asarray(pairs, dtype=np.int64).reshape(-1, 2),
                   np.asarray(wins, dtype=np.float64), np.asarray(total, dtype=np.float64),
                   np.arange(k), np.ones(k))

    def with_weights(self, weights: FloatArray) -> PairStats:
        k = len(self.pairs)
        wins: FloatArray = np.bincount(self.cell_to_pair, weights * self.cell_score,
                                       k).astype(np.float64, copy=False)
        total: FloatArray = np.bincount(self.cell_to_pair, weights, k).astype(np.float64,
                                                                              copy=False)
        return PairStats(self.n_models, self.pairs, wins, total, self.cell_to_pair,
                         self.cell_score)


def _loglik(s: FloatArray, st: PairStats, prior: float) -> float:
    d = s[st.pairs[:, 0]] - s[st.pairs[:, 1]]
    # W log sigma(d) + (N - W) log sigma(-d) = W d - N log(1 + e^d), and
    # log(1 + e^d) = max(d, 0) + log1p(e^-|d|) without overflow (cheaper than two logaddexp)
    softplus = np.maximum(d, 0.0) + np.log1p(np.exp(-np.abs(d)))
    ll = st.wins @ d - st.total @ softplus
    return float(ll - 0.5 * prior * s @ s)


def _solve_spd(a: FloatArray, b: FloatArray) -> FloatArray:
    """Solve ``a x = b`` for symmetric positive definite ``a`` by Cholesky (LAPACK directly:
    ``scipy.linalg.cho_solve``'s wrappers cost more than the solve at this size)."""
    from scipy.linalg.lapack import dpotrf, dpotrs  # cached after the first call

    factor, info = dpotrf(a, lower=False, clean=False, overwrite_a=True)
    if info == 0:
        x, info = dpotrs(factor, b, lower=False)
    if info != 0:
        raise ModelError("Bradley-Terry Newton step failed (singular Hessian); check that "
                         "the comparison graph is connected or pass a prior")
    out: FloatArray = x
    return out


def newton_fit(st: PairStats, prior: float, init: FloatArray | None, tol: float,
               max_iter: int, solve: Callable[[FloatArray, FloatArray], FloatArray] | None = None,
               ) -> tuple[FloatArray, int]:
    """Newton's method of the module docstring; returns the centred scores and the number of
    Newton steps taken.

    ``solve(H, g)`` solves the symmetric positive-definite Newton system; by default LAPACK's
    Cholesky through SciPy, which is safe in forked bootstrap workers (NumPy's threaded
    OpenBLAS is not) but costs 0.15 s to import; callers that never fork may pass
    ``numpy.linalg.solve``.
    """
    solve = _solve_spd if solve is None else solve
    m = st.n_models
    i, j = st.pairs[:, 0], st.pairs[:, 1]
    s = np.zeros(m) if init is None else np.array(init, dtype=np.float64)
    s -= s.mean()
    flat_ij = i * m + j
    diag = np.diag_indices(m)
    ll = -np.inf
    steps = 0
    for steps in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        d = s[i] - s[j]
        p = 0.5 * (1.0 + np.tanh(0.5 * d))  # sigma(d), overflow-free
        r = st.wins - st.total * p
        g = np.bincount(i, r, m) - np.bincount(j, r, m) - prior * s
        h = st.total * p * (1.0 - p)
        # H = L(h) + prior I: the weighted graph Laplacian of the pairs
        off: FloatArray = np.bincount(flat_ij, h, m * m).reshape(m, m).astype(np.float64)
        off += off.T
        hess: FloatArray = -off
        hess[diag] = off.sum(axis=1) + prior
        # The log-likelihood is flat along the all-ones direction and the optimum (with or
        # without the prior) has sum(s) = 0, so this term fixes the shift at no cost.
        hess += 1.0 / m
        step = solve(hess, g)
        t = 1.0
        if np.max(np.abs(step)) < 0.01:
            # Inside the quadratic-convergence region of a smooth concave function the full
            # Newton step is safe; skip the (costly) likelihood evaluation.
            s = s + step
        else:
            if not np.isfinite(ll):
                ll = _loglik(s, st, prior)
            while True:
                cand = s + t * step
                ll_new = _loglik(cand, st, prior)
                if ll_new >= ll - 1e-12 * max(1.0, abs(ll)) or t < 1e-10:
                    break
                t *= 0.5
            s, ll = cand, ll_new
        size = float(np.max(np.abs(t * step)))
        # Newton converges quadratically near the optimum (the log-likelihood has a Lipschitz
        # Hessian): after a full step of size d the remaining error is O(d^2), so d^2 < tol
        # already puts us within tol.
        if size < tol or (t == 1.0 and size * size < tol):
            break
    out: FloatArray = s - s.mean()
    return out, steps


def _lbfgs(st: PairStats, prior: float, init: FloatArray | None, tol: float) -> FloatArray:
    from scipy.optimize import minimize  # only for very large boards; slow to import

    m = st.n_models
    i, j = st.pairs[:, 0], st.pairs[:, 1]

    def fun(s: FloatArray) -> tuple[float, FloatArray]:
        d = s[i] - s[j]
        p = 0.5 * (1.0 + np.tanh(0.5 * d))
        r = st.wins - st.total * p
        g = np.bincount(i, r, m) - np.bincount(j, r, m) - prior * s
        return -_loglik(s, st, prior), -g

    x0 = np.zeros(m) if init is None else np.asarray(init, dtype=np.float64)
    res = minimize(fun, x0, jac=True, method="L-BFGS-B",
                   options={"gtol": tol, "ftol": 0.0, "maxiter": 10_000})
    s: FloatArray = res.x
    out: FloatArray = s - s.mean()
    return out


def bt_mle(
    matchups: IntArray,
    outcomes: FloatArray,
    weights: FloatArray,
    n_models: int,
    *,
    prior: float = 0.0,
    init: FloatArray | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> FloatArray:
    r"""Maximum-likelihood Bradley–Terry scores (natural-log strengths) from pair counts.

    :math:`P(i \succ j) = 1/(1 + e^{s_j - s_i})`; an outcome of 0.5 (a tie) counts as half a
    win each side. ``prior`` is the precision :math:`\lambda` of a zero-mean Gaussian prior
    (an L2 penalty :math:`\tfrac{\lambda}{2}\lVert s\rVert^2`); with ``prior=0`` the scores
    sum to zero. Exact Newton steps to ``tol`` [BT52]_, [Chiang24]_.

    Parameters
    ----------
    matchups : shape (k, 2) model indices (first, second).
    outcomes : shape (k,), P(first wins): 1, 0 or 0.5.
    weights : shape (k,), counts (or summed weights) of each row.
    n_models : number of models.
    """
    counts = PairCounts(tuple(str(i) for i in range(n_models)), np.asarray(matchups),
                        np.asarray(outcomes, dtype=np.float64),
                        np.asarray(weights, dtype=np.float64),
                        np.asarray(weights, dtype=np.float64), int(np.sum(weights)))
    return fit_scores(PairStats.from_counts(counts), prior=prior, init=init, tol=tol,
                      max_iter=max_iter)


def fit_scores(st: PairStats, *, prior: float = 0.0, init: FloatArray | None = None,
               tol: float = 1e-10, max_iter: int = 100) -> FloatArray:
    """:func:`bt_mle` on collapsed :class:`PairStats` (used by the bootstrap loop)."""
    if st.n_models > _DENSE_LIMIT:
        return _lbfgs(st, prior, init, tol)
    return newton_fit(st, prior, init, tol, max_iter)[0]
