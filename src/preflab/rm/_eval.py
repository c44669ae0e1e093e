r"""RewardBench-style evaluation of a reward model on preference pairs.

Accuracy is the share of pairs with :math:`r(\text{chosen}) > r(\text{rejected})` (a tie of
rewards counts half), as in RewardBench [Lambert24]_, reported overall, per ``subset`` and per
``category`` with Wilson score intervals [Wilson27]_. Calibration treats
:math:`\sigma(r_c - r_r)` as the probability that the chosen side wins (exact for a
Bradley-Terry model) and reports the expected calibration error over equal-width bins
[Guo17]_, using both orders of each pair so the outcome is not constant. Baselines on the
same pairs: longer-is-better, shorter-is-better (by characters) and random (expected 0.5).
Pairs labelled as ties are left out of accuracy and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

from preflab.rm._pairs import PreferencePairs

FloatArray = npt.NDArray[np.float64]


class RewardScorer(Protocol):
    """Anything that scores texts: the embedded and transformers models, multimodal backends."""

    name: str

    def score(self, prompts: Sequence[str], texts: Sequence[str], *, aspect: str | None = None,
              images: Sequence[str | None] | None = None) -> FloatArray: ...


def wilson_interval(k: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``k / n``."""
    if n == 0:
        return (float("nan"), float("nan"))
    z = float(norm.ppf(0.5 + level / 2))
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (float(mid - half), float(mid + half))


@dataclass(frozen=True, slots=True)
class Accuracy:
    """Accuracy with its Wilson interval on ``n`` pairs."""

    accuracy: float
    ci: tuple[float, float]
    n: int

    @staticmethod
    def of(correct: FloatArray, level: float = 0.95) -> Accuracy:
        n = len(correct)
        k = float(np.sum(correct))
        return Accuracy(k / n if n else float("nan"), wilson_interval(k, n, level), n)

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "ci": list(self.ci), "n": self.n}


def correct_of(diff: FloatArray) -> FloatArray:
    """1 where ``diff > 0``, 0.5 where ``diff == 0``, else 0."""
    return np.asarray((diff > 0) + 0.5 * (diff == 0), dtype=np.float64)


def calibration(diff: FloatArray, n_bins: int = 10) -> tuple[float, list[dict[str, float]]]:
    """Expected calibration error of :math:`\\sigma(d)` and the reliability table.

    Each pair enters twice, as ``(sigma(d), 1)`` and ``(sigma(-d), 0)``.
    """
    p = 1.0 / (1.0 + np.exp(-np.clip(diff, -50, 50)))
    prob = np.concatenate([p, 1 - p])
    y = np.concatenate([np.ones_like(p), np.zeros_like(p)])
    bins = np.minimum((prob * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    table = []
    for b in range(n_bins):
        sel = bins == b
        if not sel.any():
            continue
        conf, acc = float(prob[sel].mean()), float(y[sel].mean())
        ece += sel.mean() * abs(conf - acc)
        table.append({"bin_low": b / n_bins, "bin_high": (b + 1) / n_bins,
                      "confidence": conf, "frequency": acc, "n": int(sel.sum())})
    return float(ece), table


def baseline_diffs(pairs: PreferencePairs, rng: np.random.Generator | int | None = 0
                   ) -> dict[str, FloatArray]:
    """Score differences of the simple baselines (``random`` is one seeded draw)."""
    lc = np.array([len(t) for t in pairs.chosen], float)
    lr = np.array([len(t) for t in pairs.rejected], float)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return {"longer": lc - lr, "shorter": lr - lc, "random": gen.standard_normal(len(lc))}


@dataclass(frozen=True, slots=True)
class EvalResult:
    """What :func:`evaluate` returns; ``to_dict()`` is the JSON of ``preflab rm eval``."""

    model: str
    overall: Accuracy
    by_subset: dict[str, Accuracy]
    by_category: dict[str, Accuracy]
    ece: float
    reliability: list[dict[str, float]]
    baselines: dict[str, Accuracy]
    n_ties_skipped: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.overall.accuracy

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "accuracy": self.overall.accuracy, "ci": list(self.overall.ci),
            "n": self.overall.n, "n_ties_skipped": self.n_ties_skipped,
            "by_subset": {k: v.to_dict() for k, v in self.by_subset.items()},
            "by_category": {k: v.to_dict() for k, v in self.by_category.items()},
            "ece": self.ece, "reliability": self.reliability,
            "baselines": {k: v.to_dict() for k, v in self.baselines.items()}, **self.extra,
        }


def _groups(labels: tuple[str, ...], correct: FloatArray) -> dict[str, Accuracy]:
    lab = np.array(labels, dtype=object)
    return {str(g): Accuracy.of(correct[lab == g]) for g in sorted(set(labels)) if g}


def evaluate_diffs(diff: FloatArray, pairs: PreferencePairs, *, model: str = "model",
                   n_bins: int = 10, rng: np.random.Generator | int | None = 0) -> EvalResult:
    """:class:`EvalResult` from precomputed ``diff = r(chosen) - r(rejected)`` (ties skipped)."""
    keep = ~pairs.tie
    p = pairs.take(keep)
    d = np.asarray(diff, float)[keep]
    correct = correct_of(d)
    ece, rel = calibration(d, n_bins)
    base = {k: Accuracy.of(correct_of(v)) for k, v in baseline_diffs(p, rng).items()}
    base["random"] = Accuracy(0.5, wilson_interval(0.5 * len(d), len(d)), len(d))
    return EvalResult(model, Accuracy.of(correct), _groups(p.subset, correct),
                      _groups(p.category, correct), ece, rel, base, int((~keep).sum()))


def evaluate(model: RewardScorer, pairs: PreferencePairs, *, aspect: str | None = None,
             n_bins: int = 10, rng: np.random.Generator | int | None = 0) -> EvalResult:
    """Evaluate ``model`` on ``pairs`` (see the module docstring)."""
    rc = model.score(pairs.prompt, pairs.chosen, aspect=aspect, images=pairs.chosen_image)
    rr = model.score(pairs.prompt, pairs.rejected, aspect=aspect, images=pairs.rejected_image)
    return evaluate_diffs(rc - rr, pairs, model=model.name, n_bins=n_bins, rng=rng)
