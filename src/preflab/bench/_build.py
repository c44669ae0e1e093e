"""``build_benchmark``: BenchBuilder from a pile of prompts to a small, hard benchmark [Li24]_.

Steps: deduplicate (exact, then near-duplicate), embed the survivors, cluster them into topics
with a size floor, annotate each clustered prompt's quality with an LLM judge through the
judge runner (cached, resumable), select high-quality prompts from high-quality clusters, and
account for every input prompt: kept, or dropped with its reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from preflab._errors import DataError
from preflab.bench._cluster import Clustering, cluster_prompts
from preflab.bench._dedup import Dedup, deduplicate
from preflab.bench._embed import Embedder, get_embedder
from preflab.bench._input import PromptSet
from preflab.bench._quality import CRITERIA, Quality, annotate_quality
from preflab.bench._select import Selection, select_prompts
from preflab.judge import AnswerCache, JudgeConfig
from preflab.judge._engine import ProgressFn

logger = logging.getLogger(__name__)

DEDUP_REASONS = {"exact": "exact duplicate", "near": "near duplicate"}


@dataclass(frozen=True, slots=True)
class BenchBuild:
    """Everything a build decided. ``unique`` indexes the prompts that survived deduplication
    (clustering, quality and selection are over those, in that order); ``annotated`` marks
    which of them went to the judge (prompts of dropped small clusters do not)."""

    prompts: PromptSet
    dedup: Dedup
    unique: np.ndarray[Any, np.dtype[np.int64]]
    embedder: str
    clustering: Clustering
    quality: Quality
    annotated: np.ndarray[Any, np.dtype[np.bool_]]
    selection: Selection
    judge: str

    @property
    def n_kept(self) -> int:
        """Prompts in the benchmark."""
        return int(self.selection.keep.sum())

    def drop_counts(self) -> dict[str, int]:
        """Input prompts left out, per reason (deduplication first, then selection)."""
        out = {DEDUP_REASONS["exact"]: self.dedup.n_exact, DEDUP_REASONS["near"]: self.dedup.n_near}
        out.update(self.selection.counts())
        return out

    def _scores(self) -> tuple[np.ndarray[Any, np.dtype[np.float64]], list[str],
                               np.ndarray[Any, np.dtype[np.bool_]]]:
        """Per unique prompt: score, quality status, criteria (prompts not annotated: skipped)."""
        m = len(self.unique)
        score = np.full(m, np.nan)
        status = ["skipped"] * m
        crit = np.zeros((m, len(CRITERIA)), dtype=bool)
        pos = np.flatnonzero(self.annotated)
        score[pos] = self.quality.score
        crit[pos] = self.quality.criteria
        for j, s in zip(pos, self.quality.status, strict=True):
            status[int(j)] = s
        return score, status, crit

    def table(self) -> pa.Table:
        """One row per input prompt: its fate (``kept``/``dropped``), reason and annotations."""
        ps, n = self.prompts, len(self.prompts)
        score, qstatus, crit = self._scores()
        pos = np.full(n, -1, dtype=np.int64)
        pos[self.unique] = np.arange(len(self.unique))
        reps = [[ps.ids[int(self.unique[j])] for j in r] for r in self.clustering.representatives]
        rows = []
        for i in range(n):
            j = int(pos[i])
            if j < 0:
                kind = self.dedup.kind[i]
                rows.append({"prompt_id": ps.ids[i], "prompt": ps.texts[i], "kept": False,
                             "reason": DEDUP_REASONS[kind],
                             "duplicate_of": ps.ids[int(self.dedup.duplicate_of[i])],
                             "similarity": float(self.dedup.similarity[i]), "cluster": None,
                             "cluster_label": None, "cluster_representatives": None,
                             "quality_status": None, "score": None,
                             "criteria": None})
                continue
            c = int(self.clustering.labels[j])
            rows.append({"prompt_id": ps.ids[i], "prompt": ps.texts[i],
                         "kept": bool(self.selection.keep[j]),
                         "reason": self.selection.reason[j] or None, "duplicate_of": None,
                         "similarity": None, "cluster": c if c >= 0 else None,
                         "cluster_label": self.clustering.names[c] if c >= 0 else None,
                         "cluster_representatives": reps[c] if c >= 0 else None,
                         "quality_status": qstatus[j],
                         "score": None if np.isnan(score[j]) else float(score[j]),
                         "criteria": ([CRITERIA[k] for k in np.flatnonzero(crit[j])]
                                      if qstatus[j] == "ok" else None)})
        schema = pa.schema([("prompt_id", pa.string()), ("prompt", pa.string()),
                            ("kept", pa.bool_()), ("reason", pa.string()),
                            ("duplicate_of", pa.string()), ("similarity", pa.float64()),
                            ("cluster", pa.int64()), ("cluster_label", pa.string()),
                            ("cluster_representatives", pa.list_(pa.string())),
                            ("quality_status", pa.string()), ("score", pa.float64()),
                            ("criteria", pa.list_(pa.string()))])
        return pa.Table.from_pylist(rows, schema=schema)

    def benchmark(self) -> pa.Table:
        """The selected prompts: prompt_id, prompt, cluster, cluster_label (keywords), score,
        criteria, one boolean column per criterion, and cluster_representatives (ids of the
        cluster's most central prompts, which label it by example)."""
        t = self.table()
        kept = t.filter(t.column("kept"))
        cols = {"prompt_id": kept.column("prompt_id"), "prompt": kept.column("prompt"),
                "cluster": kept.column("cluster"), "cluster_label": kept.column("cluster_label"),
                "score": kept.column("score"), "criteria": kept.column("criteria")}
        lists = kept.column("criteria").to_pylist()
        for name in CRITERIA:
            cols[name] = pa.array([name in (c or []) for c in lists], type=pa.bool_())
        cols["cluster_representatives"] = kept.column("cluster_representatives")
        return pa.table(cols)


def build_benchmark(
    prompts: PromptSet,
    judge: JudgeConfig,
    *,
    near_duplicates: bool = True,
    near_threshold: float = 0.8,
    embedder: str | Embedder = "tfidf",
    n_components: int = 100,
    method: str = "kmeans",
    n_clusters: int | None = None,
    min_cluster_size: int = 5,
    small: str = "merge",
    min_score: float = 6.0,
    min_cluster_mean: float = 6.0,
    per_cluster: int | None = None,
    cache: AnswerCache | str | Path = ":memory:",
    log: str | Path | None = None,
    budget: float | None = None,
    progress: ProgressFn | None = None,
    rng: int = 0,
) -> BenchBuild:
    """Build a benchmark from ``prompts`` (see the module docstring and each step's module).

    ``rng`` seeds the SVD, k-means, the per-cluster sampling and the retry jitter; the same
    input, settings and judge answers (cached) give the same benchmark.
    """
    if len(prompts) == 0:
        raise DataError("there are no prompts", path=prompts.source or None,
                        fix="Give a table with at least one prompt.")
    d = deduplicate(prompts.texts, near=near_duplicates, threshold=near_threshold)
    unique = np.flatnonzero(d.keep).astype(np.int64)
    texts = [prompts.texts[i] for i in unique]
    ids = [prompts.ids[i] for i in unique]
    logger.info("%d prompts, %d exact and %d near duplicates removed", len(prompts), d.n_exact,
                d.n_near)
    emb_obj = (get_embedder(embedder, n_components=n_components, seed=rng)
               if isinstance(embedder, str) else embedder)
    emb = emb_obj.encode(texts)
    cl = cluster_prompts(emb, texts, method=method, n_clusters=n_clusters,
                         min_cluster_size=min_cluster_size, small=small, rng=rng)
    annotated = cl.labels >= 0
    pos = np.flatnonzero(annotated)
    q = annotate_quality([ids[j] for j in pos], [texts[j] for j in pos], judge, cache=cache,
                         log=log, budget=budget, progress=progress, rng=rng)
    score = np.full(len(unique), np.nan)
    status = ["skipped"] * len(unique)
    score[pos] = q.score
    for j, s in zip(pos, q.status, strict=True):
        status[int(j)] = s
    sel = select_prompts(cl.labels, score, status, min_score=min_score,
                         min_cluster_mean=min_cluster_mean, per_cluster=per_cluster, rng=rng)
    logger.info("kept %d of %d prompts", int(sel.keep.sum()), len(prompts))
    return BenchBuild(prompts, d, unique, emb_obj.name, cl, q, annotated, sel, judge.judge_name)
