r"""Benchmark audit: the meta-metrics of Arena-Hard/BenchBuilder [Li24]_ for a board with intervals.

Given a benchmark's scores with 95% intervals and a reference board (e.g. Chatbot Arena):

* **separability with confidence**: the share of model pairs whose benchmark intervals do not
  overlap (intervals that only touch count as separated, as in the authors' notebook);
* **agreement with confidence** (the paper's definition): averaged over *all* pairs, +1 when
  both boards separate the pair in the same order, -1 when both separate it in opposite
  orders, 0 when either does not separate it. The authors' released notebook
  (``notebook/benchmark_for_benchmarks.ipynb``) computes a variant, reported as
  ``agreement_notebook``: over the pairs the reference separates only, 1 for the same order,
  0.5 when the benchmark does not separate them, 0 for the opposite order;
* **Pearson, Spearman, Kendall** correlations of the scores over common models, with 95%
  intervals from Fisher's z (Pearson), Fieller–Hartley–Pearson's variances
  (Spearman: 1.06/(n-3); Kendall: 0.437/(n-4)), or a bootstrap over models;
* **Brier score** of the pairwise predictions: for each pair the benchmark predicts
  :math:`P(a < b) = \Phi\big((\mu_b - \mu_a)/\sqrt{\sigma_a^2 + \sigma_b^2}\big)` with
  :math:`\sigma = (\mathrm{hi} - \mathrm{lo})/(2\cdot 1.96)`, scored against the reference
  order (as the authors' notebook, which uses bootstrap variances).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import stats

from preflab._errors import DataError, ModelError
from preflab._json import json_number as num

FloatArray = npt.NDArray[np.float64]
Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class ScoreBoard:
    """Scores with 95% intervals: ``models`` (n,), ``score`` (n,), ``ci`` (n, 2)."""

    models: tuple[str, ...]
    score: FloatArray
    ci: FloatArray
    source: str = ""


@dataclass(frozen=True, slots=True)
class CorrelationCI:
    """A correlation coefficient with its 95% interval."""

    value: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True, slots=True)
class BenchmarkAudit:
    """Meta-metrics of a benchmark against a reference (shares in [0, 1])."""

    models: tuple[str, ...]
    n_pairs: int
    separability: float
    reference_separability: float
    n_reference_separated: int
    agreement: float
    agreement_notebook: float
    pearson: CorrelationCI
    spearman: CorrelationCI
    kendall: CorrelationCI
    brier: float
    missing_in_reference: tuple[str, ...] = field(default=())
    missing_in_benchmark: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        """JSON layout of ``preflab audit benchmark``."""
        def corr(c: CorrelationCI) -> dict[str, float | None]:
            return {"value": num(c.value), "ci_low": num(c.ci_low), "ci_high": num(c.ci_high)}

        return {
            "n_models": len(self.models), "n_pairs": self.n_pairs,
            "separability": num(self.separability),
            "reference_separability": num(self.reference_separability),
            "n_reference_separated_pairs": self.n_reference_separated,
            "agreement": num(self.agreement), "agreement_notebook": num(self.agreement_notebook),
            "pearson": corr(self.pearson), "spearman": corr(self.spearman),
            "kendall": corr(self.kendall), "brier": num(self.brier),
            "missing_in_reference": list(self.missing_in_reference),
            "missing_in_benchmark": list(self.missing_in_benchmark),
        }


def _pairs(n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    i, j = np.triu_indices(n, k=1)
    return i.astype(np.int64), j.astype(np.int64)


def separated(ci: FloatArray) -> npt.NDArray[np.bool_]:
    """(pairs,) whether the intervals of each pair ``i < j`` do not overlap (may touch)."""
    i, j = _pairs(len(ci))
    out: npt.NDArray[np.bool_] = (ci[i, 1] <= ci[j, 0]) | (ci[j, 1] <= ci[i, 0])
    return out


def separability(ci: npt.ArrayLike) -> float:
    """Share of model pairs whose intervals do not overlap."""
    c = np.asarray(ci, dtype=np.float64)
    if len(c) < 2:
        raise ModelError("separability needs at least two models")
    return float(separated(c).mean())


def agreement(ci: npt.ArrayLike, ref_ci: npt.ArrayLike) -> tuple[float, float, int]:
    """Agreement with confidence: ``(paper, notebook, n_reference_separated)``.

    Paper: mean over all pairs of +1 (both separate, same order), -1 (both separate, opposite
    order), 0 (either does not separate). Notebook: mean over the pairs the reference
    separates of 1 (same order), 0.5 (benchmark does not separate), 0 (opposite order); NaN
    when the reference separates no pair.
    """
    c, r = np.asarray(ci, dtype=np.float64), np.asarray(ref_ci, dtype=np.float64)
    i, j = _pairs(len(c))
    ref_sep = separated(r)
    sep = separated(c)
    same = (c[i, 0] < c[j, 0]) == (r[i, 0] < r[j, 0])
    both = sep & ref_sep
    paper = float(np.where(both, np.where(same, 1.0, -1.0), 0.0).mean()) if len(i) else math.nan
    n = int(ref_sep.sum())
    if n == 0:
        return paper, float("nan"), 0
    notebook = np.where(sep, np.where(same, 1.0, 0.0), 0.5)[ref_sep]
    return paper, float(notebook.mean()), n


def brier_score(score: npt.ArrayLike, ci: npt.ArrayLike, ref_score: npt.ArrayLike) -> float:
    """Brier score of the benchmark's pairwise predictions :math:`P(a<b)` of the reference order.

    Pairs the reference ties exactly are skipped.
    """
    s, c, r = (np.asarray(v, dtype=np.float64) for v in (score, ci, ref_score))
    i, j = _pairs(len(s))
    sd2 = ((c[:, 1] - c[:, 0]) / (2 * Z95)) ** 2
    scale = np.sqrt(sd2[i] + sd2[j])
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(scale > 0, stats.norm.cdf((s[j] - s[i]) / scale),
                     np.where(s[i] < s[j], 1.0, np.where(s[i] > s[j], 0.0, 0.5)))
    keep = r[i] != r[j]
    label = (r[i] < r[j]).astype(np.float64)
    return float(np.mean((p[keep] - label[keep]) ** 2)) if keep.any() else float("nan")


def correlation(x: npt.ArrayLike, y: npt.ArrayLike, *, kind: str = "pearson",
                method: str = "fisher", n_boot: int = 2000,
                rng: np.random.Generator | int | None = 0) -> CorrelationCI:
    """Pearson/Spearman/Kendall correlation with a 95% interval (Fisher/Fieller or bootstrap)."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = len(a)
    fns = {"pearson": lambda u, v: stats.pearsonr(u, v).statistic,
           "spearman": lambda u, v: stats.spearmanr(u, v).statistic,
           "kendall": lambda u, v: stats.kendalltau(u, v).statistic}
    if kind not in fns:
        raise ModelError(f"unknown correlation '{kind}'; use pearson, spearman or kendall")
    if n < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return CorrelationCI(float("nan"), float("nan"), float("nan"))
    value = float(fns[kind](a, b))
    if method == "fisher":
        var = {"pearson": 1.0 / (n - 3) if n > 3 else math.inf,
               "spearman": 1.06 / (n - 3) if n > 3 else math.inf,
               "kendall": 0.437 / (n - 4) if n > 4 else math.inf}[kind]
        z = math.atanh(max(min(value, 1 - 1e-15), -1 + 1e-15))
        half = Z95 * math.sqrt(var)
        lo, hi = math.tanh(z - half), math.tanh(z + half)
        return CorrelationCI(value, min(lo, value), max(hi, value))  # |r| = 1: degenerate
    if method != "bootstrap":
        raise ModelError(f"unknown interval method '{method}'; use fisher or bootstrap")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    vals = []
    for _ in range(n_boot):
        k = gen.integers(0, n, n)
        if np.ptp(a[k]) > 0 and np.ptp(b[k]) > 0:
            vals.append(float(fns[kind](a[k], b[k])))
    lo, hi = np.percentile(vals, [2.5, 97.5]) if vals else (float("nan"), float("nan"))
    return CorrelationCI(value, float(lo), float(hi))


def audit_benchmark(bench: ScoreBoard, ref: ScoreBoard, *, method: str = "fisher",
                    n_boot: int = 2000,
                    rng: np.random.Generator | int | None = 0) -> BenchmarkAudit:
    """All meta-metrics on the models both boards share (in the benchmark's order)."""
    ref_idx = {m: k for k, m in enumerate(ref.models)}
    common = [m for m in bench.models if m in ref_idx]
    if len(common) < 3:
        raise DataError(f"only {len(common)} models are on both boards",
                        fix="Model names must match exactly between SCORES and --reference; "
                            "at least 3 shared models are needed.")
    bi = np.array([bench.models.index(m) for m in common])
    ri = np.array([ref_idx[m] for m in common])
    s, c, r, rc = bench.score[bi], bench.ci[bi], ref.score[ri], ref.ci[ri]
    ag, ag_nb, n_sep = agreement(c, rc)
    return BenchmarkAudit(
        models=tuple(common), n_pairs=len(common) * (len(common) - 1) // 2,
        separability=separability(c), reference_separability=separability(rc),
        n_reference_separated=n_sep, agreement=ag, agreement_notebook=ag_nb,
        pearson=correlation(s, r, kind="pearson", method=method, n_boot=n_boot, rng=rng),
        spearman=correlation(s, r, kind="spearman", method=method, n_boot=n_boot, rng=rng),
        kendall=correlation(s, r, kind="kendall", method=method, n_boot=n_boot, rng=rng),
        brier=brier_score(s, c, r),
        missing_in_reference=tuple(m for m in bench.models if m not in ref_idx),
        missing_in_benchmark=tuple(m for m in ref.models if m not in set(bench.models)))


_SCORE_KEYS = ("lc_win_rate", "score", "rating", "win_rate")


def read_board(path: str | Path, *, metric: str | None = None) -> ScoreBoard:
    """Read a board: JSON of ``preflab rank``/``arena-hard``/``winrate``, or CSV/Parquet.

    Scores: ``metric`` or the first of lc_win_rate, score, rating, win_rate present. Intervals:
    ``ci_low``/``ci_high`` (also ``lower``/``upper``, ``rating_q025``/``rating_q975``), else
    ``score ± 1.96 * standard_error`` (``lc_standard_error`` for the LC win rate).
    """
    p = Path(path)
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read JSON: {exc}", path=str(p),
                            fix="Pass the JSON of preflab rank/arena-hard/winrate.") from exc
        rows = data.get("models") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise DataError("expected {\"models\": [...]} or a list of rows", path=str(p))
    else:
        from preflab.data._io import read_table

        rows = read_table(p).to_pylist()
    if not rows:
        raise DataError("the board has no models", path=str(p))
    keys = set(rows[0])
    name_key = next((k for k in ("model", "Model", "name") if k in keys), None)
    score_key = metric or next((k for k in _SCORE_KEYS if k in keys
                                and any(r.get(k) is not None for r in rows)), None)
    if name_key is None or score_key is None or score_key not in keys:
        raise DataError(f"cannot find the model and score columns (have {', '.join(sorted(keys))})",
                        path=str(p), fix="Name them model and score (or pass --metric).")
    lo_key = next((k for k in ("ci_low", "lower", "rating_q025") if k in keys), None)
    hi_key = next((k for k in ("ci_high", "upper", "rating_q975") if k in keys), None)
    se_key = {"lc_win_rate": "lc_standard_error"}.get(score_key, "standard_error")
    models, score, ci = [], [], []
    for i, r in enumerate(rows):
        v = r.get(score_key)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            raise DataError(f"no {score_key} for model '{r.get(name_key)}'", path=str(p), row=i,
                            field=score_key, fix="Drop the row or pick another --metric.")
        if lo_key and hi_key and r.get(lo_key) is not None and r.get(hi_key) is not None:
            lo, hi = float(r[lo_key]), float(r[hi_key])
        elif r.get(se_key) is not None and not math.isnan(float(r[se_key])):
            lo, hi = float(v) - Z95 * float(r[se_key]), float(v) + Z95 * float(r[se_key])
        else:
            raise DataError(f"no interval for model '{r.get(name_key)}'", path=str(p), row=i,
                            field=lo_key or se_key,
                            fix="Give ci_low/ci_high columns or a standard error.")
        if lo > hi:
            raise DataError(f"interval low {lo} above high {hi}", path=str(p), row=i,
                            field=lo_key or se_key, fix="Swap the bounds.")
        models.append(str(r[name_key]))
        score.append(float(v))
        ci.append((lo, hi))
    if len(set(models)) != len(models):
        dup = next(m for m in models if models.count(m) > 1)
        raise DataError(f"model '{dup}' appears twice", path=str(p), field=name_key,
                        fix="Keep one row per model.")
    return ScoreBoard(tuple(models), np.array(score), np.array(ci).reshape(-1, 2), score_key)
