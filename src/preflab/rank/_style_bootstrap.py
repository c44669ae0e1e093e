"""Bootstrap rounds of style control, in chunks with their own seeds, optionally in parallel.

Rounds are split into chunks of ``chunk`` rounds; chunk ``i`` draws its battle counts from the
``i``-th child of the seed sequence of ``rng``, so the replicates are the same whatever the
number of worker processes. Workers are forked and inherit the design (never pickled); where
``fork`` is unavailable the rounds run in this process. Each round is
:func:`preflab.rank._style_control._bootstrap_round` (one Newton step from the full-data fit,
then chord steps).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np

from preflab.rank._bootstrap import _seed_sequence
from preflab.rank._ratings import FloatArray

_JOB: dict[str, Any] = {}


def _chunk(size: int, seed: np.random.SeedSequence) -> FloatArray:
    from preflab.rank._style_control import _bootstrap_round

    d, theta, p_hat, reg = _JOB["design"], _JOB["theta"], _JOB["p_hat"], _JOB["reg"]
    gen = np.random.default_rng(seed)
    nb = len(d.y)
    out = np.empty((size, len(theta)))
    for i in range(size):
        counts = np.bincount(gen.integers(0, nb, nb), minlength=nb).astype(np.float64)
        out[i] = _bootstrap_round(theta, p_hat, d, d.w * counts, reg)
    return out


def style_bootstrap(design: Any, theta: FloatArray, p_hat: FloatArray, reg: float,
                    n_rounds: int, rng: np.random.Generator | int | None, *,
                    n_jobs: int | None = None, chunk: int = 10,
                    progress: Callable[..., None] | None = None) -> FloatArray:
    """Parameters ``(r, β)`` of ``n_rounds`` resampled fits, shape (n_rounds, n_params).

    ``n_jobs``: worker processes (default: all cores when the job is large enough to pay for
    forking, i.e. battles × rounds > 2e6).
    """
    sizes = [min(chunk, n_rounds - i) for i in range(0, n_rounds, chunk)]
    seeds = _seed_sequence(rng).spawn(len(sizes))
    if n_jobs is None:
        n_jobs = (os.cpu_count() or 1) if len(design.y) * n_rounds > 2e6 else 1
    n_jobs = max(1, min(n_jobs, len(sizes)))
    _JOB.update(design=design, theta=theta, p_hat=p_hat, reg=reg)
    results: list[FloatArray] = [np.empty(0)] * len(sizes)
    try:
        if n_jobs == 1 or "fork" not in mp.get_all_start_methods():
            for i, (size, seed) in enumerate(zip(sizes, seeds, strict=True)):
                results[i] = _chunk(size, seed)
                if progress is not None:
                    progress(advance=size, total=n_rounds)
        else:
            ctx = mp.get_context("fork")
            with ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx) as pool:
                futures = {pool.submit(_chunk, size, seed): i
                           for i, (size, seed) in enumerate(zip(sizes, seeds, strict=True))}
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
                    if progress is not None:
                        progress(advance=sizes[futures[fut]], total=n_rounds)
    finally:
        _JOB.clear()
    return np.concatenate(results, axis=0)
