r"""Style control: LMArena's contextual Bradley–Terry model, fitted by exact Newton steps.

For battle ``i`` between models ``a_i`` and ``b_i`` with style counts ``c^a_{if}``, ``c^b_{if}``
(answer tokens, markdown headers, list items, bold spans), the feature is the normalised
difference ``d_{if} = (c^a_{if} - c^b_{if}) / (c^a_{if} + c^b_{if} + 1)``, then z-scored over
all battles with the population standard deviation: ``x_{if} = (d_{if} - \bar d_f) / sd_f``.
The model is

.. math:: P(a_i \text{ beats } b_i) = \sigma\big(\alpha (r_{a_i} - r_{b_i}) + x_i^T \beta\big),
          \qquad \alpha = \ln 10,

fitted by minimising the logistic loss, a tie scored as half a win for each side, plus the
ridge penalty ``(reg/2) ‖(r, β)‖²`` with ``reg = 0.5`` on both the ratings (in log10 units) and
the style coefficients. Reported ratings are ``400 r`` (+1000 or the anchor), the
style-controlled Arena scores; ``β`` are in logits per standard deviation of the feature.
This is FastChat's ``compute_style_control`` / ``compute_bootstrap_style_control``
(``fastchat/serve/monitor/rating_systems.py`` at commit 0e6d3e4, 2025) [Chiang24]_,
[LMArenaStyle24]_; that code minimises with L-BFGS-B (at most 100 iterations) from zero for
every bootstrap round. Here the ``(n_models + n_features)``-dimensional problem is solved by
Newton's method with the gradient and Hessian accumulated per *pair*: the battles are sorted by
pair (:func:`style_design`), so each iteration is one pass over cache-sized blocks of battles
(per-pair sums by ``np.add.reduceat``) and one small dense solve
(:func:`preflab.rank._style_bootstrap.grad_hess_blocked`). Bootstrap rounds start from the
full-data fit and take chord steps with its inverted Hessian, many rounds per pass over the
battles (:mod:`preflab.rank._style_bootstrap`).

Bootstrap rounds resample battles with replacement (multinomial counts per battle, as FastChat's
``np.random.randint`` rows); percentile intervals. ``intervals="sandwich"`` gives Wald intervals
from the robust covariance ``H^{-1} M H^{-1}`` of the penalised estimator instead, optionally
clustered by a column (``cluster="prompt_id"``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pyarrow as pa

from preflab._errors import ModelError
from preflab.rank._bradley_terry import PairStats, newton_fit
from preflab.rank._indexing import bincount, laplacian
from preflab.rank._ratings import FloatArray, Ratings, rank_from_ratings, to_scale
from preflab.rank._style_bootstrap import grad_hess_blocked, pair_blocks, style_bootstrap
from preflab.rank._style_features import DEFAULT_FEATURES, StyleDesign, style_design

log = logging.getLogger(__name__)

_Z = NormalDist()  # standard normal quantiles without importing scipy.stats


ALPHA = math.log(10.0)


@dataclass(frozen=True, slots=True)
class StyleRatings:
    """Style-controlled ratings and the style coefficients.

    Attributes
    ----------
    ratings : the controlled leaderboard (``ci`` filled when intervals were asked for).
    coef_names : feature names, in the order of ``coef``.
    coef : style coefficients ``β`` (logits per standard deviation of the feature).
    coef_ci : shape (n_features, 2) intervals of ``β``, or ``None``.
    feature_mean, feature_std : the z-scoring constants of the normalised differences.
    """

    ratings: Ratings
    coef_names: tuple[str, ...]
    coef: FloatArray
    coef_ci: FloatArray | None = None
    feature_mean: FloatArray | None = None
    feature_std: FloatArray | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ratings' JSON object plus a ``style`` entry with the coefficients."""
        out = self.ratings.to_dict()
        out["style"] = [
            {"feature": f, "coef": float(self.coef[j]),
             "ci_low": None if self.coef_ci is None else float(self.coef_ci[j, 0]),
             "ci_high": None if self.coef_ci is None else float(self.coef_ci[j, 1])}
            for j, f in enumerate(self.coef_names)
        ]
        return out


def _eta(theta: FloatArray, d: StyleDesign) -> FloatArray:
    n = len(d.models)
    r, beta = theta[:n], theta[n:]
    eta: FloatArray = d.x @ beta
    eta += (ALPHA * (r[d.pairs[:, 0]] - r[d.pairs[:, 1]]))[d.pair_id]
    return eta


def _pieces(theta: FloatArray, d: StyleDesign, w: FloatArray
            ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``η``, ``p = σ(η)`` (as ``(1 + tanh(η/2))/2``: no overflow, faster than ``expit``) and
    the weighted residuals ``w(y − p)``."""
    eta = _eta(theta, d)
    p = np.tanh(0.5 * eta)
    p *= 0.5
    p += 0.5
    return eta, p, w * (d.y - p)


def _loss(theta: FloatArray, d: StyleDesign, w: FloatArray, reg: float) -> float:
    """Penalised loss: ``Σ w (log(1 + e^η) − y η) + reg/2 ‖θ‖²`` (the logistic loss with
    outcome ``y``, ties ``y = 1/2``)."""
    eta = _eta(theta, d)
    ll = np.logaddexp(0.0, eta)
    ll -= d.y * eta
    return float(w @ ll + 0.5 * reg * theta @ theta)


def _grad_hess(theta: FloatArray, d: StyleDesign, w: FloatArray, reg: float,
               v_override: FloatArray | None = None, p_at: FloatArray | None = None
               ) -> tuple[FloatArray, FloatArray]:
    """Gradient of the penalised log-likelihood and the penalised information matrix.

    ``p_at``: the win probabilities at ``theta`` when already known (they do not depend on
    the weights, so every bootstrap round shares those of the full-data fit).
    """
    n, k = len(d.models), len(d.pairs)
    if p_at is None:
        _, p, res = _pieces(theta, d, w)
    else:
        p, res = p_at, w * (d.y - p_at)
    v = w * p * (1 - p) if v_override is None else v_override
    pid, pa_, pb_ = d.pair_id, d.pairs[:, 0], d.pairs[:, 1]
    res_k = bincount(pid, res, k)
    g = np.empty_like(theta)
    g[:n] = ALPHA * (bincount(pa_, res_k, n) - bincount(pb_, res_k, n))
    g[n:] = d.x.T @ res
    g -= reg * theta
    m = d.x.shape[1]
    h = np.empty((n + m, n + m))
    h[:n, :n] = ALPHA**2 * laplacian(d.pairs, bincount(pid, v, k), n)
    vx = d.x * v[:, None]
    for j in range(m):
        s = bincount(pid, vx[:, j], k)
        col = ALPHA * (bincount(pa_, s, n) - bincount(pb_, s, n))
        h[:n, n + j] = col
        h[n + j, :n] = col
    h[n:, n:] = d.x.T @ vx
    h[np.diag_indices(n + m)] += reg
    return g, h


def _solve_pd(h: FloatArray, g: FloatArray) -> FloatArray:
    """Solve ``h x = g`` for the small positive-definite ``h`` (LAPACK via numpy)."""
    out: FloatArray = np.linalg.solve(h, g).astype(np.float64, copy=False)
    return out


def fit_contextual(d: StyleDesign, *, weights: FloatArray | None = None,
                   init: FloatArray | None = None, reg: float = 0.5, tol: float = 1e-9,
                   max_iter: int = 50, line_search: bool = True) -> FloatArray:
    """Exact minimiser ``(r, β)`` of the penalised contextual-BT loss by Newton's method.

    Without ``init`` the start is the plain Bradley–Terry fit of the per-pair counts (cheap),
    so Newton starts close. With ``line_search`` a step longer than 0.5 (log10 units) is
    damped until the loss decreases; shorter steps are taken as they are (near the optimum
    Newton's step on this strictly convex loss is safe and quadratically convergent).
    """
    w = d.w if weights is None else weights
    theta = _bt_start(d, w) if init is None else init.copy()
    pb = pair_blocks(d)  # battles sorted by pair (style_design): one cache-blocked pass
    f: float | None = None
    for _ in range(max_iter):
        g, h = (_grad_hess(theta, d, w, reg) if pb is None
                else grad_hess_blocked(theta, d, w, reg, ALPHA, pb))
        step = _solve_pd(h, g)
        t = 1.0
        if line_search and float(np.max(np.abs(step))) > 0.5:
            f = _loss(theta, d, w, reg) if f is None else f
            while True:
                fc = _loss(theta + t * step, d, w, reg)
                if fc <= f + 1e-12 * abs(f) or t < 1e-6:
                    break
                t *= 0.5
            f = fc
        else:
            f = None
        theta = theta + t * step
        if float(np.max(np.abs(t * step))) < tol:
            return theta
    if not line_search:  # rare: fall back to the safeguarded iteration
        out: FloatArray = fit_contextual(d, weights=weights, init=theta, reg=reg, tol=tol)
        return out
    log.warning("style control Newton stopped after %d iterations", max_iter)
    return theta


def _bt_start(d: StyleDesign, w: FloatArray) -> FloatArray:
    """``(r, β) = (BT scores / ln 10, 0)`` from the per-pair counts (ties half), with a weak
    prior so that any data gives a finite start."""
    k, n = len(d.pairs), len(d.models)
    games = bincount(d.pair_id, w, k)
    wins = bincount(d.pair_id, w * d.y, k)
    used = games > 0
    st = PairStats.of_pairs(n, d.pairs[used], wins[used], games[used])
    s, _ = newton_fit(st, 0.5 / ALPHA**2, None, 1e-6, 100, solve=_solve_pd)
    return np.concatenate([s / ALPHA, np.zeros(d.x.shape[1])])


def _sandwich_cov(theta: FloatArray, d: StyleDesign, reg: float) -> FloatArray:
    n = len(d.models)
    _, p, res = _pieces(theta, d, d.w)
    _, h = _grad_hess(theta, d, d.w, reg, p_at=p)
    if d.cluster is None:
        _, meat = _grad_hess(theta, d, d.w, 0.0, v_override=d.w * (d.y - p) ** 2, p_at=p)
    else:
        m = d.x.shape[1]
        a, b = d.pairs[d.pair_id, 0], d.pairs[d.pair_id, 1]
        g = int(d.cluster.max()) + 1
        rows = np.concatenate([d.cluster, d.cluster] + [d.cluster] * m)
        cols = np.concatenate([a, b] + [np.full(len(res), n + j) for j in range(m)])
        vals = np.concatenate([ALPHA * res, -ALPHA * res] + [res * d.x[:, j] for j in range(m)])
        from scipy import sparse

        u = sparse.csr_matrix((vals, (rows, cols)), shape=(g, n + m))
        meat = np.asarray((u.T @ u).todense()) * (g / max(g - 1, 1))
    hinv = np.linalg.inv(h)
    cov: FloatArray = hinv @ meat @ hinv
    return cov


def fit_style_control(
    table: pa.Table, *, features: tuple[str, ...] = DEFAULT_FEATURES,
    anchor: tuple[str, float] | None = None, scale: str = "elo", n_bootstrap: int = 0,
    rng: np.random.Generator | int | None = None, intervals: str = "bootstrap",
    level: float = 0.95, cluster: str | None = None, reg: float = 0.5, ties: str = "half",
    progress: Callable[..., None] | None = None, n_jobs: int | None = None,
) -> StyleRatings:
    """Style-controlled Bradley–Terry ratings (LMArena's contextual BT), see module docstring.

    Parameters
    ----------
    table : comparisons with ``style_a_<f>`` and ``style_b_<f>`` columns for each feature.
    features : style features to control for (default tokens, headers, lists, bold).
    anchor, scale : as :func:`preflab.rank.fit_bradley_terry`.
    n_bootstrap : rounds of battle resampling (``intervals="bootstrap"``); 0 for none.
    rng : seed or generator for the bootstrap (rounds are drawn in chunks of 10 from child
        seeds, so the result does not depend on ``n_jobs``).
    intervals : ``"bootstrap"`` (percentile) or ``"sandwich"`` (robust Wald, no resampling).
    level : interval coverage.
    cluster : with ``intervals="sandwich"``, a column to cluster by (``prompt_id``, ``judge``).
    reg : ridge penalty ``reg/2 ‖θ‖²`` (FastChat's 0.5).
    ties : ``"half"`` (FastChat) or ``"drop"``.
    progress : ``progress(advance=k, total=n_bootstrap)`` callback.
    n_jobs : bootstrap worker processes (forked); default all cores when the job is large.
    """
    if intervals not in ("bootstrap", "sandwich"):
        raise ModelError(f"intervals='{intervals}': use 'bootstrap' or 'sandwich'")
    d = style_design(table, features=features, ties=ties,
                     cluster=cluster if intervals == "sandwich" else None)
    n = len(d.models)
    theta = fit_contextual(d, reg=reg)
    nat = ALPHA * theta[:n]
    rating = to_scale(nat, d.models, scale=scale, anchor=anchor)
    games = bincount(d.pairs[d.pair_id, 0], d.w, n) + bincount(d.pairs[d.pair_id, 1], d.w, n)
    wins = (bincount(d.pairs[d.pair_id, 0], d.w * d.y, n)
            + bincount(d.pairs[d.pair_id, 1], d.w * (1 - d.y), n))
    ratings = Ratings(d.models, rating, method="style_control", scale=scale, anchor=anchor,
                      n=games, win_rate=np.divide(wins, games, out=np.zeros(n), where=games > 0),
                      n_comparisons=int(round(float(d.w.sum()))),
                      params={"features": list(d.features), "reg": reg})
    coef = theta[n:]
    coef_ci = None
    if intervals == "sandwich":
        from preflab.rank._sandwich import wald_ci

        cov = _sandwich_cov(theta, d, reg)
        ci = wald_ci(rating, ALPHA**2 * cov[:n, :n], d.models, scale=scale, anchor=anchor,
                     level=level)
        z = float(_Z.inv_cdf(0.5 + level / 2))
        se_b = np.sqrt(np.diag(cov)[n:])
        coef_ci = np.column_stack([coef - z * se_b, coef + z * se_b])
        method = "sandwich" if cluster is None else f"sandwich-cluster:{cluster}"
        ratings = ratings.with_intervals(ci, method=method, level=level)
    elif n_bootstrap > 0:
        p_hat = _pieces(theta, d, d.w)[1]
        pb = pair_blocks(d)
        _, h = (_grad_hess(theta, d, d.w, reg, p_at=p_hat) if pb is None
                else grad_hess_blocked(theta, d, d.w, reg, ALPHA, pb))
        boot = style_bootstrap(d, theta, p_hat, h, reg, n_bootstrap, rng, n_jobs=n_jobs,
                               progress=progress)
        scaled = to_scale(ALPHA * boot[:, :n], d.models, scale=scale, anchor=anchor)
        q = [50 * (1 - level), 50 * (1 + level)]
        ci = np.percentile(scaled, q, axis=0).T
        ranks = np.array([rank_from_ratings(row) for row in scaled])
        rank_ci = np.percentile(ranks, q, axis=0).T
        coef_ci = np.percentile(boot[:, n:], q, axis=0).T
        ratings = ratings.with_intervals(ci, rank_ci=rank_ci, method="bootstrap", level=level)
        ratings.params["bootstrap_median"] = np.median(scaled, axis=0).tolist()
        ratings.params["n_bootstrap"] = n_bootstrap
    return StyleRatings(ratings, d.features, coef, coef_ci, d.mean, d.std)

