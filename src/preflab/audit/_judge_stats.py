"""Statistics of the judge audit: pure functions on arrays.

Outcomes are coded per unordered pair ``(x, y)`` as +1 (x wins), 0 (tie), -1 (y wins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def wilson_interval(k: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k/n`` [Wilson27]_; ``(nan, nan)`` when n = 0."""
    if n <= 0:
        return (float("nan"), float("nan"))
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (float(centre - half), float(centre + half))


def cohen_kappa(pred: IntArray, truth: IntArray, n_classes: int = 3) -> float:
    r"""Cohen's kappa :math:`(p_o - p_e) / (1 - p_e)` of two labelings coded ``0..n_classes-1``.

    :math:`p_o` is the observed agreement, :math:`p_e = \sum_c p^{pred}_c p^{truth}_c` the
    agreement expected by chance [Cohen60]_. NaN when :math:`p_e = 1`.
    """
    n = len(pred)
    if n == 0:
        return float("nan")
    po = float(np.mean(pred == truth))
    counts_p = np.bincount(pred, minlength=n_classes)
    counts_t = np.bincount(truth, minlength=n_classes)
    pe = float(np.dot(counts_p, counts_t)) / (n * n)
    return float("nan") if pe >= 1 else (po - pe) / (1 - pe)


def bootstrap_kappa(pred: IntArray, truth: IntArray, *, n_boot: int = 1000,
                    rng: np.random.Generator | int | None = 0,
                    level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of Cohen's kappa, resampling items."""
    n = len(pred)
    if n == 0:
        return (float("nan"), float("nan"))
    gen = np.random.default_rng(rng)
    code = pred * 3 + truth
    ks = np.empty(n_boot)
    for b in range(n_boot):
        counts = np.bincount(code[gen.integers(0, n, n)], minlength=9).reshape(3, 3)
        po = np.trace(counts) / n
        pe = float(counts.sum(1) @ counts.sum(0)) / (n * n)
        ks[b] = np.nan if pe >= 1 else (po - pe) / (1 - pe)
    ks = ks[~np.isnan(ks)]
    if len(ks) == 0:  # every resample had a single class on both sides
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(ks, [50 * (1 - level), 50 * (1 + level)])
    return (float(lo), float(hi))


@dataclass(frozen=True, slots=True)
class LogisticFit:
    """Logistic regression ``logit P(y=1) = intercept + slope * x`` with Wald intervals."""

    intercept: float
    slope: float
    slope_se: float
    slope_ci: tuple[float, float]
    p_value: float
    n: int


def logistic_fit(x: FloatArray, y: FloatArray, weights: FloatArray | None = None,
                 level: float = 0.95) -> LogisticFit:
    """Maximum-likelihood logistic regression of ``y`` in [0, 1] (fractional allowed) on ``x``.

    Newton-Raphson on the (quasi-)binomial log-likelihood; the slope's standard error is the
    square root of the inverse Fisher information (model-based, as in a GLM fit).
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, float)
    design = np.column_stack([np.ones_like(x), x])
    beta = np.zeros(2)
    info = np.eye(2)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(design @ beta)))
        grad = design.T @ (w * (y - p))
        info = (design * (w * p * (1 - p))[:, None]).T @ design
        step = np.linalg.solve(info + 1e-12 * np.eye(2), grad)
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    cov = np.linalg.inv(info)
    se = float(np.sqrt(cov[1, 1]))
    z = float(stats.norm.ppf(0.5 + level / 2))
    pval = float(2 * stats.norm.sf(abs(beta[1]) / se)) if se > 0 else float("nan")
    return LogisticFit(float(beta[0]), float(beta[1]), se,
                       (float(beta[1] - z * se), float(beta[1] + z * se)), pval, len(x))


@dataclass(frozen=True, slots=True)
class LengthBias:
    """Length bias of a judge.

    ``slope``: change in the log-odds that the first response wins per unit of
    ``log(len_first / len_second)`` (natural log; ``slope * ln 2`` per doubling), with interval.
    ``longer_win_rate``: how often the longer response wins among decisive verdicts with
    different lengths (0.5 = no bias), with a Wilson interval.
    """

    slope: float
    slope_ci: tuple[float, float]
    p_value: float
    longer_win_rate: float
    longer_win_ci: tuple[float, float]
    n: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


def length_bias(len_first: Sequence[float], len_second: Sequence[float], y_first: Sequence[float],
                level: float = 0.95) -> LengthBias:
    """Length bias from lengths and outcomes (``y_first``: 1 first wins, 0 second, 0.5 tie, or a
    probability). Rows with a non-positive length are left out."""
    la = np.asarray(len_first, float)
    lb = np.asarray(len_second, float)
    y = np.asarray(y_first, float)
    ok = (la > 0) & (lb > 0) & np.isfinite(y)
    la, lb, y = la[ok], lb[ok], y[ok]
    fit = logistic_fit(np.log(la / lb), y, level=level)
    decisive = (y != 0.5) & (la != lb)
    longer_first = la[decisive] > lb[decisive]
    y_d = y[decisive]
    wins = float(np.sum(np.where(longer_first, y_d, 1 - y_d)))
    n = int(decisive.sum())
    rate = wins / n if n else float("nan")
    return LengthBias(fit.slope, fit.slope_ci, fit.p_value, rate, wilson_interval(wins, n, level),
                      len(y))


def cyclic_triads(edges: dict[tuple[str, str], int]) -> tuple[int, int]:
    """Count triads with all three pairs decided and how many of them are cycles.

    ``edges`` maps an unordered pair ``(x, y)`` (x < y) to +1 (x beats y) or -1; ties are absent.
    A triad is intransitive when its three preferences form a cycle (A>B, B>C, C>A).
    """
    beats: dict[str, set[str]] = {}
    nodes: set[str] = set()
    for (x, y), s in edges.items():
        nodes.update((x, y))
        w, lose = (x, y) if s > 0 else (y, x)
        beats.setdefault(w, set()).add(lose)
    names = sorted(nodes)
    adj: dict[str, set[str]] = {n: set() for n in names}  # undirected
    for x, y in edges:
        adj[x].add(y)
        adj[y].add(x)
    n_triads = n_cyclic = 0
    for a in names:
        for b in adj[a]:
            if b <= a:
                continue
            for c in adj[a] & adj[b]:
                if c <= b:
                    continue
                n_triads += 1
                wins = [len(beats.get(m, set()) & {a, b, c}) for m in (a, b, c)]
                if sorted(wins) == [1, 1, 1]:
                    n_cyclic += 1
    return n_triads, n_cyclic
