r"""Cross-validated choice of the LC GLM's L1 penalty, as AlpacaEval's ``fit_LogisticRegressionCV``.

AlpacaEval fits the GLM with scikit-learn's ``LogisticRegressionCV(Cs=10, cv=GroupKFold(5),
penalty="l1", solver="liblinear", tol=1e-4, max_iter=100, random_state=123,
fit_intercept=False)`` on two weighted copies of every annotation (label 1 with weight
:math:`p\,s`, label 0 with weight :math:`(1-p)\,s`), grouped so both copies share a fold.

- Penalties: :math:`C \in` ``logspace(-4, 4, 10)``.
- Folds: ``GroupKFold`` on groups of equal size puts row :math:`g` of the :math:`N`
  training rows (gamed rows first, then the model's) in fold :math:`(N - 1 - g) \bmod 5`.
- Score of a fold: the weighted soft log-likelihood averaged over its test rows,
  :math:`\frac1{n_f}\sum_i s_i\,[p_i\log q_i + (1-p_i)\log(1-q_i)]`, :math:`q` clipped to
  :math:`[10^{-15}, 1-10^{-15}]` (AlpacaEval's ``logloss_continuous`` scorer).
- Choice: the first :math:`C` with the largest sum of fold scores; then one refit on all
  rows at that :math:`C` (liblinear starts every fit from zero).

``solver="liblinear"`` (default) replays liblinear's iterations (:mod:`._lc_liblinear`), so
the folds' fits, the chosen :math:`C` and the refit equal AlpacaEval's to rounding.
``solver="exact"`` solves every fit to its optimum instead (:mod:`._lc_exact`): on
AlpacaEval's data neighbouring penalties' CV scores differ by ~1e-6, below liblinear's
stopping error, so the exact solver picks another :math:`C` for about 1 model in 5 and moves
the LC win rate by up to ~0.1 point.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from preflab._errors import ModelError
from preflab.rank._lc_exact import l1_soft_logistic
from preflab.rank._lc_liblinear import FitBlock, liblinear_l1_logistic, liblinear_seeds

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Problem = tuple[FloatArray, FloatArray, FloatArray]   # design (n, 3), targets, weights

DEFAULT_CS: FloatArray = np.logspace(-4, 4, 10)
"""The penalty grid of scikit-learn's ``LogisticRegressionCV(Cs=10)``."""
N_SPLITS = 5
SOLVERS = ("liblinear", "exact")
RANDOM_STATE = 123       # AlpacaEval's random_state
LIBLINEAR_TOL = 1e-4     # scikit-learn's default tol
LIBLINEAR_MAX_ITER = 100
_P_CLIP = 1e-15


def cv_folds(n: int, n_splits: int = N_SPLITS) -> IntArray:
    """Fold of each of ``n`` rows under ``GroupKFold`` with one group (two copies) per row."""
    out: IntArray = (n - 1 - np.arange(n)) % n_splits
    return out


def fold_scores(beta: FloatArray, x: FloatArray, p: FloatArray, w: FloatArray,
                fold: IntArray) -> FloatArray:
    """(n_splits, n_c) CV scores of coefficients ``beta`` (n_splits, n_c, 3) on test folds."""
    out = np.empty(beta.shape[:2])
    for f in range(beta.shape[0]):
        te = fold == f
        q = 1.0 / (1.0 + np.exp(-(beta[f] @ x[te].T)))
        q = np.clip(q, _P_CLIP, 1.0 - _P_CLIP)
        ll = p[te] * np.log(q) + (1.0 - p[te]) * np.log(1.0 - q)
        out[f] = (ll * w[te]).mean(axis=1)
    return out


def fit_lc_glm(
    x: FloatArray,
    p: FloatArray,
    sample_weight: FloatArray,
    *,
    cs: FloatArray = DEFAULT_CS,
    n_splits: int = N_SPLITS,
    solver: str = "liblinear",
) -> tuple[FloatArray, float]:
    """Cross-validated L1 soft-label logistic fit, as AlpacaEval's ``fit_LogisticRegressionCV``.

    Returns the refitted coefficients and the chosen ``C``. See :func:`fit_lc_glms`.
    """
    return fit_lc_glms([(x, p, sample_weight)], cs=cs, n_splits=n_splits, solver=solver)[0]


def fit_lc_glms(
    problems: Sequence[Problem],
    *,
    cs: FloatArray = DEFAULT_CS,
    n_splits: int = N_SPLITS,
    solver: str = "liblinear",
) -> list[tuple[FloatArray, float]]:
    """:func:`fit_lc_glm` for many problems (one per model), solved together.

    Each problem is ``(x, p, w)``: the (n, 3) design, soft targets in [0, 1] and row weights.
    Returns ``(coefficients, C)`` per problem.
    """
    if solver not in SOLVERS:
        raise ModelError(f"unknown LC solver '{solver}'; use one of {', '.join(SOLVERS)}")
    cs = np.asarray(cs, dtype=np.float64)
    for x, p, _w in problems:
        if len(p) < n_splits:
            raise ModelError(f"{len(p)} annotated rows cannot be split into {n_splits} folds")
        if x.shape != (len(p), 3):
            raise ModelError(f"the LC design must have shape (n, 3), got {x.shape}")
    if solver == "exact":
        return [_fit_exact(x, p, w, cs, n_splits) for x, p, w in problems]
    return _fit_liblinear(problems, cs, n_splits)


def _fit_liblinear(problems: Sequence[Problem], cs: FloatArray,
                   n_splits: int) -> list[tuple[FloatArray, float]]:
    n_c = len(cs)
    seeds = liblinear_seeds(RANDOM_STATE, n_c)
    # fold designs: each fold's training rows, padded with rows of weight 0 (which liblinear
    # drops); several models share a block so that per-call overheads are paid once
    groups: list[tuple[FloatArray, FloatArray, FloatArray]] = []
    for x, p, w in problems:
        fold = cv_folds(len(p), n_splits)
        for f in range(n_splits):
            t = fold != f
            groups.append((x[t], (p * w)[t], ((1.0 - p) * w)[t]))
    blocks = _blocks(groups, [np.arange(n_c)] * len(groups), [cs] * len(groups))
    paths, _ = liblinear_l1_logistic(blocks, seeds, tol=LIBLINEAR_TOL,
                                     max_iter=LIBLINEAR_MAX_ITER)
    beta = np.concatenate(paths).reshape(len(problems), n_splits, n_c, 3)
    best = []
    for (x, p, w), b in zip(problems, beta, strict=True):
        scores = fold_scores(b, x, p, w, cv_folds(len(p), n_splits))
        best.append(int(np.argmax(scores.sum(axis=0))))
    # the refit on all rows: scikit-learn draws its seed afresh, so it is the path's first
    refit = _blocks([(x, p * w, (1.0 - p) * w) for x, p, w in problems],
                    [np.zeros(1, dtype=np.int64)] * len(problems), [cs[k:k + 1] for k in best])
    coef, _ = liblinear_l1_logistic(refit, seeds, tol=LIBLINEAR_TOL,
                                    max_iter=LIBLINEAR_MAX_ITER)
    return [(c, float(cs[k])) for c, k in zip(np.concatenate(coef), best, strict=True)]


_GROUPS_PER_BLOCK = 5


def _blocks(groups: Sequence[tuple[FloatArray, FloatArray, FloatArray]],
            seeds: Sequence[IntArray], cs: Sequence[FloatArray]) -> list[FitBlock]:
    """Pack (design, w_pos, w_neg) groups, each with fits of penalties ``cs[g]`` and seed
    indices ``seeds[g]``, into blocks of padded equal-length rows; fits come out in order."""
    out = []
    for a in range(0, len(groups), _GROUPS_PER_BLOCK):
        part = groups[a:a + _GROUPS_PER_BLOCK]
        m = max(len(g[1]) for g in part)
        designs = np.zeros((len(part), m, 3))
        wp, wn = np.zeros((len(part), m)), np.zeros((len(part), m))
        for i, (x, p, q) in enumerate(part):
            designs[i, :len(p)] = x
            wp[i, :len(p)] = p
            wn[i, :len(p)] = q
        idx = range(a, a + len(part))
        out.append(FitBlock(designs, wp, wn,
                            np.concatenate([np.full(len(cs[g]), i) for i, g in enumerate(idx)]),
                            np.concatenate([cs[g] for g in idx]),
                            np.concatenate([seeds[g] for g in idx])))
    return out


def _fit_exact(x: FloatArray, p: FloatArray, sample_weight: FloatArray, cs: FloatArray,
               n_splits: int) -> tuple[FloatArray, float]:
    n = len(p)
    fold = cv_folds(n, n_splits)
    n_c = len(cs)
    w_cv = np.empty((n_splits * n_c, n))
    for f in range(n_splits):
        w_cv[f * n_c:(f + 1) * n_c] = np.where(fold != f, sample_weight, 0.0)
    # the full-data path for every C: warm starts for the folds, and the refit itself
    top = l1_soft_logistic(x, p, sample_weight[None, :], cs[-1:])
    full = l1_soft_logistic(x, p, np.repeat(sample_weight[None, :], n_c, axis=0), cs,
                            init=np.repeat(top, n_c, axis=0))
    beta_cv = l1_soft_logistic(x, p, w_cv, np.tile(cs, n_splits),
                               init=np.tile(full, (n_splits, 1)), overwrite_w=True)
    scores = fold_scores(beta_cv.reshape(n_splits, n_c, 3), x, p, sample_weight, fold)
    best = int(np.argmax(scores.sum(axis=0)))
    return full[best], float(cs[best])
