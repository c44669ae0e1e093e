"""Rubric-judge audit: example-level and corpus-level correlations with a reference signal.

As ICE-Score reports them [Zhuo24]_ (``compute_results.ipynb``): Kendall tau-b, Spearman and
Pearson (``scipy.stats``).

- **Example level**: within each group (a problem), correlate the judge's scores with the
  reference over the group's items (systems or samples), then average over groups. A group
  where either vector is constant (or that has fewer than 2 items) has no correlation; it is
  dropped and counted (``n_dropped``), as ``numpy.nanmean`` silently does in the paper.
- **Corpus level**: one correlation over all (group, item) rows pooled.

Intervals are percentile bootstraps over groups: example level resamples the per-group
correlations; corpus level resamples whole groups (a cluster bootstrap) and recomputes the
pooled correlation.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray
from scipy import stats

from preflab._errors import DataError

METHODS = ("kendall", "spearman", "pearson")


@dataclass(frozen=True, slots=True)
class Correlation:
    """A correlation with its bootstrap interval."""

    value: float
    ci: tuple[float, float]


@dataclass(frozen=True, slots=True)
class CorrelationSet:
    """Kendall tau-b, Spearman and Pearson at one level, with group counts."""

    kendall: Correlation
    spearman: Correlation
    pearson: Correlation
    n_groups: int
    n_dropped: int
    n_rows: int


@dataclass(frozen=True, slots=True)
class ScoreAudit:
    """Example-level and corpus-level correlations of a score with the truth."""

    example: CorrelationSet
    corpus: CorrelationSet

    def to_dict(self) -> dict[str, Any]:
        """``{"example": {"kendall": .., "spearman": .., "pearson": .., "n_groups", "n_dropped"},
        "corpus": {...}}`` with each correlation as a number and its interval under ``*_ci``."""
        out: dict[str, Any] = {}
        for level in ("example", "corpus"):
            cs: CorrelationSet = getattr(self, level)
            d: dict[str, Any] = {}
            for m in METHODS:
                c: Correlation = getattr(cs, m)
                d[m] = c.value
                d[f"{m}_ci"] = list(c.ci)
            d.update(n_groups=cs.n_groups, n_dropped=cs.n_dropped, n_rows=cs.n_rows)
            out[level] = d
        return out


def _corr(method: str, x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    if len(x) < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "kendall":
            return float(stats.kendalltau(x, y).statistic)  # tau-b
        if method == "spearman":
            return float(stats.spearmanr(x, y).statistic)
        return float(stats.pearsonr(x, y).statistic)


def correlations(score: Sequence[float] | NDArray[np.float64],
                 truth: Sequence[float] | NDArray[np.float64],
                 group: Sequence[Any] | NDArray[Any], *, n_boot: int = 1000,
                 rng: np.random.Generator | int | None = 0, level: float = 0.95) -> ScoreAudit:
    """Example- and corpus-level correlations of ``score`` with ``truth`` (see module docstring)."""
    s = np.asarray(score, dtype=float)
    t = np.asarray(truth, dtype=float)
    g = np.asarray(group)
    if not (len(s) == len(t) == len(g)):
        raise ValueError("score, truth and group must have the same length")
    finite = np.isfinite(s) & np.isfinite(t)
    s, t, g = s[finite], t[finite], g[finite]
    _, gidx = np.unique(g, return_inverse=True)
    order = np.argsort(gidx, kind="stable")
    bounds = np.flatnonzero(np.diff(gidx[order])) + 1
    groups = np.split(order, bounds) if len(order) else []
    gen = np.random.default_rng(rng)
    q = [50 * (1 - level), 50 * (1 + level)]

    # example level
    per = np.array([[_corr(m, s[ix], t[ix]) for m in METHODS] for ix in groups]).reshape(-1, 3)
    # a group is dropped if either vector is constant: every method is NaN then
    dropped = int(np.isnan(per).all(axis=1).sum()) if len(per) else 0
    ex_vals = [float(np.nanmean(per[:, j])) if len(per) and not np.isnan(per[:, j]).all()
               else float("nan") for j in range(3)]
    ex_ci: list[tuple[float, float]] = []
    n_g = len(per)
    for j in range(3):
        col = per[:, j][~np.isnan(per[:, j])] if n_g else np.zeros(0)
        if len(col) == 0:
            ex_ci.append((float("nan"), float("nan")))
            continue
        boots = col[gen.integers(0, len(col), (n_boot, len(col)))].mean(axis=1)
        lo, hi = np.percentile(boots, q)
        ex_ci.append((float(lo), float(hi)))
    ex = [Correlation(v, c) for v, c in zip(ex_vals, ex_ci, strict=True)]
    example = CorrelationSet(ex[0], ex[1], ex[2], n_groups=n_g - dropped, n_dropped=dropped,
                             n_rows=len(s))

    # corpus level
    co_vals = [_corr(m, s, t) for m in METHODS]
    boot = np.full((n_boot, 3), np.nan)
    if groups:
        for b in range(n_boot):
            pick = gen.integers(0, len(groups), len(groups))
            ix = np.concatenate([groups[i] for i in pick])
            boot[b] = [_corr(m, s[ix], t[ix]) for m in METHODS]
    co_ci = []
    for j in range(3):
        col = boot[:, j][~np.isnan(boot[:, j])]
        co_ci.append((float(np.percentile(col, q[0])), float(np.percentile(col, q[1])))
                     if len(col) else (float("nan"), float("nan")))
    co = [Correlation(v, c) for v, c in zip(co_vals, co_ci, strict=True)]
    corpus = CorrelationSet(co[0], co[1], co[2], n_groups=len(groups), n_dropped=0, n_rows=len(s))
    return ScoreAudit(example, corpus)


def audit_scores(table: pa.Table | Sequence[Mapping[str, Any]] | Any, *, score: str, truth: str,
                 group: str, n_boot: int = 1000, rng: np.random.Generator | int | None = 0,
                 level: float = 0.95, path: str | None = None) -> ScoreAudit:
    """:func:`correlations` of columns ``score`` and ``truth`` grouped by ``group`` of a table.

    Rows where the score or the truth is missing (e.g. an unparsed judge reply) are left out.
    """
    if isinstance(table, pa.Table):
        t = table
    elif isinstance(table, Sequence):
        t = pa.Table.from_pylist([dict(r) for r in table])
    else:  # a pandas/polars data frame
        t = pa.table(table)
    for col in (score, truth, group):
        if col not in t.column_names:
            raise DataError(f"no column {col!r}", path=path, field=col,
                            fix=f"Columns are: {', '.join(t.column_names)}.")

    def num(col: str) -> NDArray[np.float64]:
        try:
            return np.array([np.nan if v is None else float(v) for v in t.column(col).to_pylist()])
        except (TypeError, ValueError) as exc:
            raise DataError(f"column {col!r} is not numeric: {exc}", path=path, field=col,
                            fix="Pass a numeric column.") from exc
    groups = np.array([str(v) for v in t.column(group).to_pylist()])
    return correlations(num(score), num(truth), groups, n_boot=n_boot, rng=rng, level=level)
