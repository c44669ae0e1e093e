r"""Active sampling: which pairs to compare next so the ranking becomes certain fastest.

The current board is the Bradley–Terry fit ``ŝ`` (with a weak Gaussian prior, so models with
few or no votes are handled) and its posterior covariance ``Σ = (H + λI)^{-1}``, ``H`` the
Fisher information. What makes a ranking uncertain is the order of *adjacent* models: for
neighbours ``k`` and ``k+1`` in the current order the contrast ``c_k = e_{(k)} - e_{(k+1)}`` has
gap ``Δ_k = c_k^T ŝ`` and standard deviation ``σ_k = \sqrt{c_k^T Σ c_k}``.

One more comparison of ``i`` and ``j`` adds information ``v_{ij} x x^T`` with ``x = e_i - e_j``
and ``v_{ij} = p_{ij}(1 - p_{ij})``, which by Sherman–Morrison lowers the variance of each
contrast by ``(c_k^T Σ x)^2 v_{ij} / (1 + v_{ij} x^T Σ x)``.

- ``strategy="info"``: pick the pair with the largest total variance reduction over adjacent
  contrasts, each weighted by how ambiguous its order is, ``φ(Δ_k/σ_k)/σ_k`` (an expected
  information gain about the pairwise orders, [Chen13]_, [Glickman05]_);
- ``strategy="ucb"``: an upper-confidence rule on adjacent pairs (LUCB-like, [Kalyanakrishnan12]_):
  compare the neighbours whose intervals overlap most, ``z σ_k - |Δ_k|``;
- ``strategy="uniform"``: uniformly random pairs (the baseline).

A batch of ``n`` pairs is chosen greedily: after each pick ``Σ`` is updated (Sherman–Morrison)
as if the comparison had been made, so the batch spreads out. ``budgets`` caps the number of
new comparisons per model in the batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pyarrow as pa
from scipy.special import expit

from preflab._errors import ModelError
from preflab.rank._indexing import laplacian
from preflab.rank._ratings import FloatArray
from preflab.rank._sandwich import bt_newton

_Z = NormalDist()  # standard normal quantiles without importing scipy.stats


STRATEGIES = ("info", "ucb", "uniform")


def _as_counts(state: Any) -> tuple[tuple[str, ...], np.ndarray, FloatArray, FloatArray]:
    from preflab.rank._incremental import Board

    if isinstance(state, Board):
        state = state.counts()
    if isinstance(state, (pa.Table, str, Path)):
        from preflab.rank._counts import pair_counts

        state = pair_counts(state)
    return (tuple(state.models), np.asarray(state.matchups, np.int64),
            np.asarray(state.outcomes, np.float64), np.asarray(state.weights, np.float64))


def posterior(state: Any, *, models: Sequence[str] | None = None, prior: float = 0.05
              ) -> tuple[tuple[str, ...], FloatArray, FloatArray]:
    """Models, MAP scores and covariance ``(H + prior·I)^{-1}`` of the current board.

    ``models`` adds models without comparisons yet (new entrants).
    """
    names, mu, y, w = _as_counts(state)
    allm = tuple(sorted(set(names) | set(models or ())))
    remap = np.array([allm.index(m) for m in names], dtype=np.int64)
    mu = remap[mu] if len(mu) else mu.reshape(0, 2)
    m = len(allm)
    if m < 2:
        raise ModelError("active sampling needs at least two models")
    s = bt_newton(mu, y, w, m, prior=prior) if len(mu) else np.zeros(m)
    p = expit(s[mu[:, 0]] - s[mu[:, 1]]) if len(mu) else np.zeros(0)
    h = laplacian(mu, w * p * (1 - p), m) if len(mu) else np.zeros((m, m))
    cov: FloatArray = np.linalg.inv(h + prior * np.eye(m)).astype(np.float64)
    return allm, s, cov


def next_pairs(
    counts_or_state: Any, n: int = 50, *, strategy: str = "info",
    budgets: Mapping[str, int] | None = None, rng: np.random.Generator | int | None = None,
    models: Sequence[str] | None = None, level: float = 0.95, prior: float = 0.05,
) -> list[tuple[str, str]]:
    """The next ``n`` comparisons to run (module docstring).

    Parameters
    ----------
    counts_or_state : PairCounts, a comparisons table or file, or a :class:`Board`.
    n : batch size.
    strategy : ``"info"``, ``"ucb"`` or ``"uniform"``.
    budgets : ``{model: max new comparisons in this batch}``; models not listed are unlimited.
    rng : seed or generator (random tie-breaks, the uniform strategy, and side order).
    models : extra models with no comparisons yet.
    level : interval level of the ``ucb`` rule.
    prior : precision of the Gaussian prior on scores (keeps new models finite).

    Returns
    -------
    list of ``(model_a, model_b)``; the side order is random.
    """
    if strategy not in STRATEGIES:
        raise ModelError(f"strategy='{strategy}': use one of {', '.join(STRATEGIES)}")
    gen = np.random.default_rng(rng)
    names, s, cov = posterior(counts_or_state, models=models, prior=prior)
    m = len(names)
    left = np.full(m, np.iinfo(np.int64).max // 4, dtype=np.int64)
    for name, cap in (budgets or {}).items():
        if name in names:
            left[names.index(name)] = int(cap)
    iu, ju = np.triu_indices(m, 1)
    v = expit(s[iu] - s[ju])
    v = v * (1 - v)
    order = np.argsort(-s, kind="stable")
    contrasts = np.zeros((m - 1, m))
    contrasts[np.arange(m - 1), order[:-1]] = 1.0
    contrasts[np.arange(m - 1), order[1:]] = -1.0
    gap = contrasts @ s
    z = float(_Z.inv_cdf(0.5 + level / 2))
    out: list[tuple[str, str]] = []
    for _ in range(n):
        ok = (left[iu] > 0) & (left[ju] > 0)
        if not ok.any():
            break
        if strategy == "uniform":
            k = int(gen.choice(np.flatnonzero(ok)))
        else:
            cs = contrasts @ cov  # (m-1, m)
            sd = np.sqrt(np.clip(np.einsum("km,km->k", cs, contrasts), 1e-300, None))
            if strategy == "info":
                weight = np.exp(-0.5 * (gap / sd) ** 2) / (np.sqrt(2 * np.pi) * sd)
            else:
                overlap = z * sd - np.abs(gap)
                weight = np.where(overlap >= overlap.max() - 1e-12, 1.0, 0.0)
            proj = cs[:, iu] - cs[:, ju]  # c_k^T Σ x for every pair
            xsx = cov[iu, iu] + cov[ju, ju] - 2 * cov[iu, ju]
            gain = (weight[:, None] * proj**2).sum(axis=0) * v / (1 + v * xsx)
            gain = np.where(ok, gain + 1e-15 * gen.random(len(gain)), -np.inf)
            k = int(np.argmax(gain))
        i, j = int(iu[k]), int(ju[k])
        if strategy != "uniform":
            x = np.zeros(m)
            x[i], x[j] = 1.0, -1.0
            sx = cov @ x
            cov = cov - np.outer(sx, sx) * v[k] / (1 + v[k] * float(x @ sx))
        left[i] -= 1
        left[j] -= 1
        out.append((names[i], names[j]) if gen.random() < 0.5 else (names[j], names[i]))
    return out
