r"""Exact Newton Bradley–Terry on counts, its information matrix, and sandwich (robust) intervals.

The Bradley–Terry log-likelihood on sufficient statistics (cells ``k`` = pair ``(a_k, b_k)``
with outcome ``y_k`` ∈ {0, ½, 1} = P(first wins), weight ``w_k``) is

.. math:: \ell(s) = \sum_k w_k [y_k \log \sigma(s_{a_k}-s_{b_k})
                               + (1-y_k)\log \sigma(s_{b_k}-s_{a_k})],

with gradient ``X^T w (y - p)`` and Hessian ``-X^T diag(w p (1-p)) X`` where row ``k`` of ``X``
is ``e_{a_k} - e_{b_k}``. A tie scored ½ is a *quasi*-likelihood contribution: its model-based
variance is wrong, which is one reason for the sandwich estimator

.. math:: \widehat{Cov}(\hat s) = H^{+} \Big(\sum_c u_c u_c^T\Big) H^{+},
          \qquad u_c = \sum_{k \in c} w_k (y_k - p_k) x_k,

summed over clusters ``c`` (single battles by default; prompts or voters when asked), with
``H^+`` the pseudo-inverse on the sum-to-zero subspace [Huber67]_, [White80]_,
[CameronMiller15]_. Intervals are Wald: ``rating ± z_{1-α/2} · se`` on the reported scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from preflab._errors import DataError, ModelError
from preflab.rank._bradley_terry import bt_mle
from preflab.rank._indexing import bincount, laplacian, models_and_outcomes
from preflab.rank._ratings import FloatArray, IntArray, Ratings, elo_factor, to_scale

_Z = NormalDist()  # standard normal quantiles without importing scipy.stats



def _sigmoid(d: FloatArray) -> FloatArray:
    """The logistic function, overflow-free (``scipy.special.expit`` costs 0.08 s to import)."""
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * d))
    return out


@dataclass(frozen=True, slots=True)
class BTCounts:
    """Sufficient statistics: ``matchups`` (k, 2) model indices, ``outcomes`` (k,) P(first wins),
    ``weights`` (k,), and optionally ``cluster`` (k,) integer cluster ids of each cell."""

    models: tuple[str, ...]
    matchups: IntArray
    outcomes: FloatArray
    weights: FloatArray
    cluster: IntArray | None = None


def table_counts(table: pa.Table, *, ties: str = "half", cluster: str | None = None) -> BTCounts:
    """Reduce a comparisons table to counts per ``(model_a, model_b, outcome[, cluster])``.

    ``weight`` multiplies each row when present. ``cluster`` names a column (``prompt_id``,
    ``judge``) whose values become integer cluster ids.
    """
    models, ia, ib, y, keep = models_and_outcomes(table, ties)
    w = (table.column("weight").to_numpy(zero_copy_only=False).astype(np.float64)
         if "weight" in table.column_names else np.ones(len(y)))
    if cluster is not None:
        if cluster not in table.column_names:
            raise DataError(f"no column '{cluster}' to cluster by", field=cluster,
                            fix=f"Use one of {', '.join(table.column_names)}.")
        cid = pc.dictionary_encode(table.column(cluster).cast(pa.string()).combine_chunks())
        cl = cid.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    else:
        cl = np.zeros(len(y), np.int64)
    n = len(models)
    code = ((cl * n + ia) * n + ib) * 3 + np.rint(y * 2).astype(np.int64)
    uniq, inv = np.unique(code[keep], return_inverse=True)
    wsum = bincount(inv, w[keep], len(uniq))
    yk = (uniq % 3) / 2.0
    rest = uniq // 3
    mb, rest = rest % n, rest // n
    ma, ck = rest % n, rest // n
    return BTCounts(models, np.column_stack([ma, mb]).astype(np.int64), yk.astype(np.float64),
                    wsum, ck.astype(np.int64) if cluster is not None else None)


def bt_information(scores: FloatArray, matchups: IntArray, weights: FloatArray,
                   n_models: int) -> FloatArray:
    """Fisher information ``X^T diag(w p (1-p)) X`` of the BT log-likelihood (n_models²)."""
    d = scores[matchups[:, 0]] - scores[matchups[:, 1]]
    p = _sigmoid(d)
    v = weights * p * (1.0 - p)
    return laplacian(matchups, v, n_models)


def bt_newton(matchups: IntArray, outcomes: FloatArray, weights: FloatArray, n_models: int, *,
              init: FloatArray | None = None, prior: float = 0.0, tol: float = 1e-10,
              max_iter: int = 100) -> FloatArray:
    r"""Bradley–Terry MLE by damped Newton steps, optionally warm-started.

    Maximises the weighted log-likelihood (module docstring) minus ``prior/2 ‖s‖²`` (a Gaussian
    prior, zero by default). Without a prior the solution is centred (mean 0; BT is invariant to
    a common shift and the Newton step uses the pseudo-inverse ``(H + 11^T/n)^{-1}``). Converges
    quadratically; from a warm start after a small append, one or two steps suffice.
    """
    a, b = matchups[:, 0], matchups[:, 1]
    if prior == 0:
        games = bincount(a, weights, n_models) + bincount(b, weights, n_models)
        wins = bincount(a, weights * outcomes, n_models) + bincount(
            b, weights * (1 - outcomes), n_models)
        extreme = np.flatnonzero((wins <= 0) | (wins >= games))
        if extreme.size:
            raise ModelError(
                f"Bradley–Terry MLE diverges: model index {int(extreme[0])} has only wins or "
                "only losses (or no comparisons); add a prior (--prior) or more comparisons")
    # the Newton solve itself is the reference one (preflab.rank._bradley_terry)
    s = bt_mle(matchups, outcomes, weights, n_models, prior=prior, init=init, tol=tol,
               max_iter=max_iter)
    if not np.all(np.isfinite(s)) or np.max(np.abs(s)) > 50:
        raise ModelError("Bradley–Terry MLE diverges: some model has only wins or only losses; "
                         "add a prior (--prior) or more comparisons")
    return s


def sandwich_cov(scores: FloatArray, c: BTCounts, *, extra_diag: float = 0.0) -> FloatArray:
    """Robust covariance of centred BT scores (natural-log units), clustered if ``c.cluster``."""
    n = len(c.models)
    a, b = c.matchups[:, 0], c.matchups[:, 1]
    p = _sigmoid(scores[a] - scores[b])
    h = laplacian(c.matchups, c.weights * p * (1 - p), n) + extra_diag * np.eye(n)
    resid = c.weights * (c.outcomes - p)
    if c.cluster is None:
        # every battle its own cluster: the w battles of a cell share one score y - p
        meat = laplacian(c.matchups, c.weights * (c.outcomes - p) ** 2, n)
    else:
        from scipy import sparse  # only for clustered intervals (slow to import)

        rows = np.concatenate([c.cluster, c.cluster])
        cols = np.concatenate([a, b])
        u = sparse.csr_matrix((np.concatenate([resid, -resid]), (rows, cols)),
                              shape=(int(c.cluster.max()) + 1, n))
        meat = np.asarray((u.T @ u).todense())
        g = u.shape[0]
        meat *= g / max(g - 1, 1)  # small-sample factor of clustered sandwiches
    if extra_diag == 0:
        # pseudo-inverse of a Laplacian-like H with null vector 1: (H + 11'/n)^-1 - 11'/n
        j = np.full((n, n), 1.0 / n)
        hinv = np.linalg.inv(h + j) - j
    else:
        hinv = np.linalg.inv(h)
    cov: FloatArray = hinv @ meat @ hinv
    return cov


def wald_ci(rating: FloatArray, cov_nat: FloatArray, models: tuple[str, ...], *, scale: str,
            anchor: tuple[str, float] | None, level: float) -> FloatArray:
    """Wald intervals on the reported scale from a covariance of natural-log scores."""
    n = len(models)
    if anchor is None:
        centre = np.eye(n) - 1.0 / n
        var = np.einsum("ij,jk,ik->i", centre, cov_nat, centre)
    else:
        i = models.index(anchor[0])
        d = np.diag(cov_nat)
        var = d + d[i] - 2 * cov_nat[:, i]
    se = elo_factor(scale) * np.sqrt(np.clip(var, 0, None))
    z = float(_Z.inv_cdf(0.5 + level / 2))
    return np.column_stack([rating - z * se, rating + z * se])


def win_stats(c: BTCounts) -> tuple[FloatArray, FloatArray]:
    """Comparisons each model took part in, and its win rate (ties half)."""
    n = len(c.models)
    a, b = c.matchups[:, 0], c.matchups[:, 1]
    games = bincount(a, c.weights, n) + bincount(b, c.weights, n)
    wins = bincount(a, c.weights * c.outcomes, n) + bincount(
        b, c.weights * (1 - c.outcomes), n)
    return games, np.divide(wins, games, out=np.zeros(n), where=games > 0)


def sandwich_intervals(table_or_counts: pa.Table | BTCounts | Any, *, cluster: str | None = None,
                       level: float = 0.95, anchor: tuple[str, float] | None = None,
                       scale: str = "elo", ties: str = "half", prior: float = 0.0) -> Ratings:
    r"""Bradley–Terry ratings with sandwich (Huber–White) Wald intervals.

    Parameters
    ----------
    table_or_counts : a comparisons table, a :class:`BTCounts`, or any object with ``models``,
        ``matchups``, ``outcomes``, ``weights`` (e.g. the lead's ``PairCounts``).
    cluster : column to cluster by (``"prompt_id"`` or ``"judge"``): scores are summed within a
        cluster before the outer product, which allows arbitrary correlation inside it
        [CameronMiller15]_. Needs a table, not counts.
    level : coverage of the intervals (0.95).
    anchor, scale : as :func:`preflab.rank.fit_bradley_terry`.
    ties : ``"half"`` (a tie is half a win each side, as Chatbot Arena) or ``"drop"``.

    Returns
    -------
    Ratings with ``ci`` and ``interval_method="sandwich"`` (or ``"sandwich-cluster:<col>"``);
    ``params["se"]`` holds the standard errors on the reported scale.
    """
    if isinstance(table_or_counts, pa.Table):
        c = table_counts(table_or_counts, ties=ties, cluster=cluster)
    else:
        if cluster is not None:
            raise ModelError("clustered sandwich intervals need the comparisons table, not counts")
        t = table_or_counts
        c = BTCounts(tuple(t.models), np.asarray(t.matchups, np.int64),
                     np.asarray(t.outcomes, np.float64), np.asarray(t.weights, np.float64))
    if not 0 < level < 1:
        raise ModelError(f"level must be in (0, 1), got {level}")
    n = len(c.models)
    s = bt_newton(c.matchups, c.outcomes, c.weights, n, prior=prior)
    cov = sandwich_cov(s, c, extra_diag=prior)
    rating = to_scale(s, c.models, scale=scale, anchor=anchor)
    ci = wald_ci(rating, cov, c.models, scale=scale, anchor=anchor, level=level)
    games, wr = win_stats(c)
    z = float(_Z.inv_cdf(0.5 + level / 2))
    method = "sandwich" if cluster is None else f"sandwich-cluster:{cluster}"
    r = Ratings(c.models, rating, method="bradley_terry", scale=scale, anchor=anchor, n=games,
                win_rate=wr, n_comparisons=int(round(float(c.weights.sum()))),
                params={"se": ((ci[:, 1] - ci[:, 0]) / (2 * z)).tolist(),
                        "prior": prior, "ties": ties})
    return r.with_intervals(ci, method=method, level=level)




