r"""Bootstrap intervals for Bradley–Terry ratings, resampling counts, not rows.

A bootstrap replicate of the battles is a multinomial draw of ``n_rows`` rows over the
cells (pair, outcome, weight) with probabilities proportional to their row counts, exactly
what resampling rows with replacement gives [Efr79]_; FastChat's ``compute_bootstrap_bt``
does the same on deduplicated counts [Chiang24]_. ``resample="poisson"`` draws each cell's
count from Poisson(count) instead (independent, streamable; asymptotically equivalent).
Each replicate is refitted exactly (Newton, warm-started at the full-data optimum) and put
on the same scale and anchor as the point estimate; intervals are percentiles.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np

from preflab._errors import ModelError
from preflab.rank._bradley_terry import PairStats, fit_scores
from preflab.rank._counts import PairCounts
from preflab.rank._fit import Source, as_counts, fit_bradley_terry, fit_counts
from preflab.rank._ratings import FloatArray, IntArray, Ratings, rank_from_ratings, to_scale

Progress = Callable[..., Any]


def multinomial_rows(rows: IntArray, n_rounds: int, rng: np.random.Generator) -> IntArray:
    r"""``n_rounds`` exact draws from Multinomial(n, rows / n), n = ``rows.sum()``.

    Twice as fast as ``Generator.multinomial`` (a chain of k binomials) for many cells: draw
    :math:`X_c \sim \text{Poisson}(\text{rows}_c)` independently; given their total
    :math:`N'`, X is Multinomial(N', p). If :math:`N' < n`, adding :math:`n - N'` fresh
    categorical draws gives Multinomial(n, p); if :math:`N' > n`, removing :math:`N' - n` of
    the :math:`N'` drawn rows uniformly at random leaves a uniform subset of i.i.d. rows,
    again Multinomial(n, p). Both hold for every :math:`N'`, so the draw is exact; the
    correction touches about :math:`\sqrt{n}` rows.
    """
    rows = np.asarray(rows, dtype=np.int64)
    n = int(rows.sum())
    out: IntArray = rng.poisson(rows, size=(n_rounds, len(rows)))
    cdf = np.cumsum(rows)
    for r, total in enumerate(out.sum(axis=1).tolist()):
        if total < n:
            extra = np.searchsorted(cdf, rng.integers(0, n, n - total), side="right")
            out[r] += np.bincount(extra, minlength=len(rows))
        elif total > n:
            drop = rng.choice(total, total - n, replace=False)
            cells = np.searchsorted(np.cumsum(out[r]), drop, side="right")
            out[r] -= np.bincount(cells, minlength=len(rows))
    return out


def draw_rows(counts: PairCounts, n_rounds: int, rng: np.random.Generator,
              resample: str = "multinomial") -> FloatArray:
    """Row counts per cell for ``n_rounds`` bootstrap replicates, shape (n_rounds, k)."""
    rows = counts.rows
    if resample == "multinomial":
        return multinomial_rows(rows.astype(np.int64), n_rounds, rng).astype(np.float64)
    if resample == "poisson":
        return rng.poisson(rows, size=(n_rounds, len(rows))).astype(np.float64)
    raise ModelError(f"unknown resample '{resample}'; use multinomial or poisson")


def _seed_sequence(rng: np.random.Generator | int | None) -> np.random.SeedSequence:
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(2**63)))
    return np.random.SeedSequence(rng)


def _run_chunk(job: tuple[PairCounts, str, float, FloatArray, str, int,
                          np.random.SeedSequence]) -> FloatArray:
    """Fit ``size`` replicates drawn with their own seed (one chunk of the bootstrap)."""
    counts, ties, prior, base, resample, size, seed = job
    gen = np.random.default_rng(seed)
    draws = draw_rows(counts, size, gen, resample)
    out = np.empty((size, counts.n_models))
    # A replicate may leave a model with only wins (its MLE is infinite); a tiny ridge keeps
    # it finite (a huge rating, which is what the data say) and moves nothing else (1e-8).
    ridge = prior or 1e-8
    if ties != "davidson":
        stats = PairStats.from_counts(counts)
        unit = np.divide(counts.weights, counts.rows, out=np.ones_like(counts.weights),
                         where=counts.rows > 0)
        for r in range(size):
            # tol 1e-8 on logit scores (1e-6 Elo points): far below Monte-Carlo error
            out[r] = fit_scores(stats.with_weights(unit * draws[r]), prior=ridge, init=base,
                                tol=1e-8)
    else:
        for r in range(size):
            out[r], _ = fit_counts(counts.reweighted(draws[r]), ties=ties, prior=ridge,
                                   init=base)
    return out


def bootstrap_scores(
    counts: PairCounts,
    *,
    n_rounds: int = 1000,
    rng: np.random.Generator | int | None = None,
    ties: str = "half",
    prior: float = 0.0,
    resample: str = "multinomial",
    progress: Progress | None = None,
    n_jobs: int | None = None,
    chunk: int = 50,
) -> FloatArray:
    """Natural-log strengths of each replicate, shape (n_rounds, n_models).

    Rounds are split into chunks of ``chunk`` rounds, each with its own child seed of
    ``rng``, so the result is the same whatever ``n_jobs`` is. ``n_jobs`` worker processes
    (default: all cores when the job is large enough to pay for them) share the work.
    """
    counts = counts.collapsed()
    base, _ = fit_counts(counts, ties=ties, prior=prior)
    sizes = [min(chunk, n_rounds - i) for i in range(0, n_rounds, chunk)]
    seeds = _seed_sequence(rng).spawn(len(sizes))
    jobs = [(counts, ties, prior, base, resample, size, seed) for size, seed in zip(sizes, seeds)]
    if n_jobs is None:
        big = len(counts.rows) * n_rounds * (counts.n_models / 100) > 3e6
        n_jobs = min(os.cpu_count() or 1, len(jobs)) if big else 1
    results: list[FloatArray] = [np.empty(0)] * len(jobs)
    if n_jobs <= 1 or len(jobs) == 1:
        for i, job in enumerate(jobs):
            results[i] = _run_chunk(job)
            if progress is not None:
                progress(advance=job[5])
    else:
        methods = mp.get_all_start_methods()
        ctx = mp.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx) as pool:
            futures = {pool.submit(_run_chunk, job): i for i, job in enumerate(jobs)}
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                if progress is not None:
                    progress(advance=jobs[futures[fut]][5])
    return np.concatenate(results, axis=0)


def bootstrap_intervals(
    source: Source,
    *,
    n_rounds: int = 1000,
    rng: np.random.Generator | int | None = None,
    ties: str = "half",
    anchor: tuple[str, float] | None = None,
    scale: str = "elo",
    prior: float = 0.0,
    level: float = 0.95,
    resample: str = "multinomial",
    progress: Progress | None = None,
    n_jobs: int | None = None,
) -> Ratings:
    """Bradley–Terry ratings with percentile bootstrap intervals and rank intervals.

    The point ratings are the full-data MLE (:func:`fit_bradley_terry`); ``ci`` holds the
    ``(1-level)/2`` and ``(1+level)/2`` quantiles of the replicate ratings; ``rank_ci`` the same
    quantiles of each model's rank over replicates; ``rank_ub``/``rank_worst`` follow from the
    intervals (LMArena's upper-bound rank). ``params["bootstrap_median"]`` keeps the replicate
    medians (FastChat reports those).

    Examples
    --------
    >>> ci = bootstrap_intervals(table, n_rounds=1000, rng=0)
    """
    if n_rounds < 2:
        raise ModelError("the bootstrap needs at least 2 rounds (use --bootstrap 1000)")
    counts = as_counts(source, ties)
    # the point fit also checks that the MLE exists (when there is no prior)
    point = fit_bradley_terry(counts, ties=ties, anchor=anchor, scale=scale, prior=prior)
    reps = bootstrap_scores(counts, n_rounds=n_rounds, rng=rng, ties=ties, prior=prior,
                            resample=resample, progress=progress, n_jobs=n_jobs)
    scaled = to_scale(reps, counts.models, scale=scale, anchor=anchor)
    q = [(1 - level) / 2, (1 + level) / 2]
    ci = np.quantile(scaled, q, axis=0).T
    ranks = np.stack([rank_from_ratings(row) for row in scaled])
    rank_ci = np.quantile(ranks, q, axis=0, method="inverted_cdf").T
    out = point.with_intervals(ci, rank_ci=rank_ci, method=f"bootstrap_{resample}",
                               level=level)
    out.params.update({"n_rounds": n_rounds,
                       "bootstrap_median": dict(zip(counts.models,
                                                    np.median(scaled, axis=0).tolist()))})
    return out
