"""Selection of benchmark prompts from clusters and quality scores, BenchBuilder's rule [Li24]_.

A prompt is kept when (1) it has a cluster (not dropped by the size floor), (2) its quality
reply parsed, (3) its cluster's mean quality over parsed prompts is at least
``min_cluster_mean`` and (4) its own score is at least ``min_score`` (BenchBuilder: 6 and 6
of 7). With ``per_cluster = m`` at most *m* of a cluster's eligible prompts are sampled
uniformly without replacement (seeded), for topic diversity (Arena-Hard-Auto v0.1 took 2 from
each of 250 clusters). Every prompt left out gets the first reason that applies, in the order
of :data:`REASONS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

REASONS: tuple[str, ...] = (
    "small cluster",
    "quality call failed",
    "not annotated (budget reached)",
    "quality reply unparsed",
    "cluster mean below threshold",
    "score below threshold",
    "not sampled (per-cluster quota)",
)
"""Why a (deduplicated) prompt was not selected, in the order the rules are checked."""

_STATUS_REASON = {"failed": REASONS[1], "pending": REASONS[2], "unparsed": REASONS[3]}


@dataclass(frozen=True, slots=True)
class Selection:
    """``keep`` per prompt and the ``reason`` of each one left out (``""`` when kept);
    per cluster the mean parsed score, how many were scored, eligible and kept."""

    keep: npt.NDArray[np.bool_]
    reason: tuple[str, ...]
    cluster_mean: npt.NDArray[np.float64]
    cluster_scored: npt.NDArray[np.int64]
    cluster_eligible: npt.NDArray[np.int64]
    cluster_kept: npt.NDArray[np.int64]
    min_score: float
    min_cluster_mean: float
    per_cluster: int | None

    def counts(self) -> dict[str, int]:
        """Number of prompts left out per reason (every reason listed, zeros included)."""
        return {r: sum(x == r for x in self.reason) for r in REASONS}


def select_prompts(
    labels: npt.ArrayLike,
    score: npt.ArrayLike,
    status: tuple[str, ...] | list[str],
    *,
    min_score: float = 6.0,
    min_cluster_mean: float = 6.0,
    per_cluster: int | None = None,
    rng: np.random.Generator | int | None = 0,
) -> Selection:
    """Apply BenchBuilder's selection rule (see the module docstring).

    Parameters
    ----------
    labels:
        Cluster of each prompt, ``-1`` for none.
    score:
        Quality score (NaN where not parsed).
    status:
        Annotation status per prompt: ``ok``, ``unparsed``, ``failed`` or ``pending``.
    per_cluster:
        Sample at most this many eligible prompts per cluster (``None``: keep all).
    rng:
        Seed or generator of the per-cluster sampling.
    """
    lab = np.asarray(labels, dtype=np.int64)
    sc = np.asarray(score, dtype=np.float64)
    n = len(lab)
    if len(sc) != n or len(status) != n:
        raise ValueError("labels, score and status differ in length")
    if per_cluster is not None and per_cluster < 1:
        raise ValueError("per_cluster must be at least 1")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    k = int(lab.max()) + 1 if n and lab.max() >= 0 else 0
    ok = np.array([s == "ok" for s in status], dtype=bool) & ~np.isnan(sc)
    in_c = (lab >= 0) & ok
    scored = np.bincount(lab[in_c], minlength=k).astype(np.int64)
    sums = np.bincount(lab[in_c], sc[in_c], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(scored > 0, sums / np.maximum(scored, 1), np.nan)
    good_cluster = ~np.isnan(mean) & (mean >= min_cluster_mean)
    reason = [""] * n
    for i in range(n):
        if lab[i] < 0:
            reason[i] = REASONS[0]
        elif not ok[i]:
            reason[i] = _STATUS_REASON.get(status[i], REASONS[3])
        elif not good_cluster[lab[i]]:
            reason[i] = REASONS[4]
        elif sc[i] < min_score:
            reason[i] = REASONS[5]
    eligible = np.array([r == "" for r in reason], dtype=bool)
    keep = eligible.copy()
    if per_cluster is not None:
        for c in range(k):
            members = np.flatnonzero(eligible & (lab == c))
            if len(members) > per_cluster:
                chosen = gen.choice(members, size=per_cluster, replace=False)
                for i in np.setdiff1d(members, chosen):
                    keep[i] = False
                    reason[i] = REASONS[6]
    elig_c = np.bincount(lab[eligible], minlength=k).astype(np.int64)
    kept_c = np.bincount(lab[keep], minlength=k).astype(np.int64)
    return Selection(keep, tuple(reason), mean, scored, elig_c, kept_c, float(min_score),
                     float(min_cluster_mean), per_cluster)
