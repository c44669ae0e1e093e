r"""Bootstrap rounds of style control: a chunk of rounds at once, each chunk with its own seed.

Round ``b`` refits the contextual Bradley–Terry model (:mod:`preflab.rank._style_control`) with
battle weights ``w_i c_{ib}``, where ``c_{ib}`` are the multinomial counts of battle ``i`` in a
resample of the battles with replacement [Efr79]_ (the estimator of FastChat's
``compute_bootstrap_style_control``, which resamples battle rows). Each round solves its
penalised score equation ``g_b(θ) = J^T (c_b ∘ w ∘ (y − σ(Jθ))) − reg θ = 0`` by chord
iterations from the full-data optimum ``θ̂``,

.. math:: θ_{t+1} = θ_t + H^{-1} g_b(θ_t), \qquad θ_0 = θ̂,

with ``H`` the full-data penalised information at ``θ̂``, inverted once and shared by every
round (the chord, or simplified Newton, method: Ortega and Rheinboldt 1970, *Iterative
Solution of Nonlinear Equations in Several Variables*, §7.1). The first gradient is linear in
the counts because the win probabilities ``p̂ = σ(Jθ̂)`` do not depend on the weights; later
ones are one pass over the battles for all rounds of the chunk at once (``σ`` via ``tanh`` in
float32, sums in float64, in row blocks that stay in cache; battles are sorted by pair so the
per-pair sums are ``np.add.reduceat``). The iteration converges to the exact replicate
``θ̂_b`` linearly, at the rate ``ρ = ‖I − H^{-1} H_b‖`` (``H_b`` the replicate's
information; ≈ 0.1 at 100k Arena-like battles, more for models with few battles), so after a
step ``s_t`` the error left is about
``|s_t| ρ / (1 − ρ)`` with ``ρ ≈ |s_t| / |s_{t−1}|`` (max norms); a round stops when that
estimate is below ``tol`` (log10 units; the default 5e-5 is 0.02 rating point). Measured
against exact refits (tests and ``benchmarks/results/scale.md``): the largest rating error
of a replicate was 0.020 point at 10k battles (100 rounds), 0.029 at 100k (100 rounds) and
0.007 at 1M (10 rounds), against bootstrap spreads of 10–100 points.

Chunk ``i`` of ``chunk`` rounds draws its battle counts from the ``i``-th child of the seed
sequence of ``rng``, so the replicates do not depend on the number of worker processes.
Workers are forked and inherit the design (never pickled); where ``fork`` is unavailable the
chunks run in this process. The row-block kernels are shared with the point fit
(:func:`pair_blocks`, :func:`grad_hess_blocked`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from preflab._errors import ModelError
from preflab.rank._bootstrap import _seed_sequence
from preflab.rank._indexing import bincount, laplacian
from preflab.rank._ratings import FloatArray, IntArray

_JOB: dict[str, Any] = {}


Block = tuple[int, int, int, int, IntArray, IntArray]


@dataclass(frozen=True, slots=True)
class PairBlocks:
    """Row blocks of a design whose battles are sorted by pair (as :func:`style_design` makes).

    ``rows``: ranges ``[lo, hi)`` of ~``block_rows`` battles holding the whole pairs
    ``[k0, k1)``, with the pairs' first rows relative to ``lo`` and their lengths (so per-pair
    sums are ``np.add.reduceat`` over a block that stays in cache); ``xt``: the features
    (n_features, n_battles), contiguous.
    """

    rows: tuple[Block, ...]
    xt: FloatArray


def pair_blocks(d: Any, block_rows: int = 8192) -> PairBlocks | None:
    """The row blocks of design ``d``, or ``None`` if its battles are not sorted by pair or a
    pair has no battle."""
    k = len(d.pairs)
    pid = d.pair_id
    starts = np.searchsorted(pid, np.arange(k + 1))
    if np.any(pid[1:] < pid[:-1]) or np.any(starts[1:] == starts[:-1]):
        return None
    rows = []
    k0 = 0
    while k0 < k:
        k1 = int(np.searchsorted(starts, starts[k0] + block_rows, side="right")) - 1
        k1 = min(max(k1, k0 + 1), k)
        lo, hi = int(starts[k0]), int(starts[k1])
        rows.append((lo, hi, k0, k1, (starts[k0:k1] - lo).astype(np.intp),
                     np.diff(starts[k0:k1 + 1]).astype(np.intp)))
        k0 = k1
    return PairBlocks(tuple(rows), np.ascontiguousarray(d.x.T))


def to_models(pairs: IntArray, per_pair: FloatArray, n: int) -> FloatArray:
    """Per-model sums ``Σ_{k: a_k = i} s_k − Σ_{k: b_k = i} s_k`` of each row of ``per_pair``
    (c, k) as columns, shape (n, c) (a pair's value counts for its first model and against
    its second); two bincounts over all rows at once."""
    c = per_pair.shape[0]
    shift = (np.arange(c) * n)[:, None]
    vals = per_pair.ravel()
    out = (bincount((pairs[:, 0] + shift).ravel(), vals, c * n)
           - bincount((pairs[:, 1] + shift).ravel(), vals, c * n))
    res: FloatArray = out.reshape(c, n).T
    return res


@dataclass(frozen=True, slots=True)
class RoundData:
    """What every bootstrap round shares: the row blocks, the residuals ``w(y − p̂)`` at the
    full-data fit (float64, for the first step) and float32 copies for the chord passes:
    features (n_features, n_battles), ``1/2 − y`` and the weights (``None`` if all 1).

    The chord passes run in float32 (numpy's tanh is ~5x faster in float32 than in float64)
    and sum pairs in float64; against float64 passes the replicates' errors to exact refits
    were unchanged to 1e-4 rating point (10k, 100k and 1M battles).
    """

    blocks: PairBlocks
    res: FloatArray
    xt32: npt.NDArray[np.float32]
    half_minus_y32: npt.NDArray[np.float32]
    w32: npt.NDArray[np.float32] | None


def round_data(d: Any, p_hat: FloatArray) -> RoundData:
    """The shared data of the bootstrap rounds of design ``d`` (from :func:`style_design`)."""
    pb = pair_blocks(d)
    if pb is None:
        raise ModelError("the style bootstrap needs the design of style_design (battles "
                         "sorted by pair, every pair present)")
    unit = bool(np.all(d.w == 1.0))
    return RoundData(pb, d.w * (d.y - p_hat), pb.xt.astype(np.float32),
                     (0.5 - d.y).astype(np.float32), None if unit else d.w.astype(np.float32))


def grad_hess_blocked(theta: FloatArray, d: Any, w: FloatArray, reg: float, alpha: float,
                      pb: PairBlocks) -> tuple[FloatArray, FloatArray]:
    """Gradient of the penalised log-likelihood and the penalised information at ``theta``
    (as :func:`preflab.rank._style_control._grad_hess`), in one pass over the row blocks.

    With ``t = tanh(η/2)``: ``p = (1 + t)/2``, ``y − p = y − 1/2 − t/2`` and
    ``p(1 − p) = (1 − t²)/4``."""
    nm, k, m = len(d.models), len(d.pairs), d.x.shape[1]
    r, beta = theta[:nm], theta[nm:]
    pair_eta = 0.5 * alpha * (r[d.pairs[:, 0]] - r[d.pairs[:, 1]])
    half_beta = 0.5 * beta
    per_pair = np.empty((2 + m, k))
    g_b = np.zeros(m)
    h_bb = np.zeros((m, m))
    unit = bool(np.all(w == 1.0))
    for lo, hi, k0, k1, ls, lens in pb.rows:
        xt = pb.xt[:, lo:hi]
        q = np.empty((2 + m, hi - lo))
        t = half_beta @ xt
        t += np.repeat(pair_eta[k0:k1], lens)
        np.tanh(t, out=t)
        np.multiply(t, -0.5, out=q[0])
        q[0] += d.y[lo:hi] - 0.5
        np.square(t, out=t)
        np.subtract(0.25, 0.25 * t, out=q[1])
        if not unit:
            q[:2] *= w[lo:hi]
        np.multiply(xt, q[1], out=q[2:])
        per_pair[:, k0:k1] = np.add.reduceat(q, ls, axis=1)
        g_b += xt @ q[0]
        h_bb += q[2:] @ xt.T
    h = np.empty((nm + m, nm + m))
    h[:nm, :nm] = alpha**2 * laplacian(d.pairs, per_pair[1], nm)
    cross = alpha * to_models(d.pairs, per_pair[2:], nm)
    h[:nm, nm:] = cross
    h[nm:, :nm] = cross.T
    h[nm:, nm:] = h_bb
    h[np.diag_indices(nm + m)] += reg
    g: FloatArray = (np.concatenate([alpha * to_models(d.pairs, per_pair[:1], nm)[:, 0], g_b])
                     - reg * theta)
    return g, h


def _counts(gen: np.random.Generator, n_rows: int, size: int) -> npt.NDArray[np.integer[Any]]:
    """(size, n_rows) multinomial counts: each row resamples the battles with replacement.

    Stored as uint8 (a battle drawn more than 255 times in one resample of ``n`` battles has
    probability below ``n / 256!``), widened if it ever happens: a quarter of the memory of
    int32, which on this VM's expensive first-touch page faults is also time."""
    out: npt.NDArray[np.integer[Any]] = np.empty((size, n_rows), np.uint8)
    for b in range(size):
        c = np.bincount(gen.integers(0, n_rows, n_rows), minlength=n_rows)
        if out.dtype == np.uint8 and n_rows > 255 and int(c.max()) > 255:
            out = out.astype(np.int64)
        out[b] = c
    return out


def _gradient_at_fit(d: Any, rd: RoundData, theta: FloatArray,
                     cnt: npt.NDArray[np.integer[Any]], reg: float, alpha: float) -> FloatArray:
    """Gradients at the full-data fit for every row of ``cnt`` (n_params, B): linear in the
    counts, ``J^T (c ∘ w(y − p̂)) − reg θ̂``, since ``p̂`` does not depend on the weights."""
    k, m = len(d.pairs), d.x.shape[1]
    size = cnt.shape[0]
    pair = np.empty((size, k))
    feat = np.zeros((size, m))
    for lo, hi, k0, k1, ls, _ in rd.blocks.rows:
        e = cnt[:, lo:hi] * rd.res[lo:hi]
        pair[:, k0:k1] = np.add.reduceat(e, ls, axis=1)
        feat += e @ rd.blocks.xt[:, lo:hi].T
    g: FloatArray = (np.concatenate([alpha * to_models(d.pairs, pair, len(d.models)), feat.T])
                     - reg * theta[:, None])
    return g


def _gradients(d: Any, rd: RoundData, th: FloatArray, cnt: npt.NDArray[np.integer[Any]],
               reg: float, alpha: float) -> FloatArray:
    """Gradients of the penalised log-likelihood at each column of ``th`` (n_params, B) with
    the battle weights ``w ∘`` each row of ``cnt``: one float32 pass over the battles, in row
    blocks that stay in cache, with the per-pair and per-feature sums taken in float64."""
    nm, k, m = len(d.models), len(d.pairs), d.x.shape[1]
    size = th.shape[1]
    r = th[:nm]
    # σ(η) = (1 + tanh(η/2)) / 2: halve η up front (no overflow, no scipy.special.expit)
    pair_eta = (0.5 * alpha * (r[d.pairs[:, 0]] - r[d.pairs[:, 1]]).T).astype(np.float32)
    beta_t = (0.5 * th[nm:].T).astype(np.float32)  # (B, m)
    neg_pair = np.empty((size, k))
    neg_feat = np.zeros((size, m))
    for lo, hi, k0, k1, ls, lens in rd.blocks.rows:
        xt = rd.xt32[:, lo:hi]
        e = beta_t @ xt
        e += np.repeat(pair_eta[:, k0:k1], lens, axis=1)
        np.tanh(e, out=e)
        e *= 0.5
        e += rd.half_minus_y32[lo:hi]  # p − y
        e *= cnt[:, lo:hi]
        if rd.w32 is not None:
            e *= rd.w32[lo:hi]
        neg_pair[:, k0:k1] = np.add.reduceat(e, ls, axis=1, dtype=np.float64)
        neg_feat += e.astype(np.float64) @ rd.blocks.xt[:, lo:hi].T
    g = np.concatenate([-alpha * to_models(d.pairs, neg_pair, nm), -neg_feat.T])
    out: FloatArray = g - reg * th
    return out


def replicates(d: Any, rd: RoundData, theta: FloatArray, hinv: FloatArray,
               cnt: npt.NDArray[np.integer[Any]], reg: float, alpha: float, tol: float = 5e-5,
               max_iter: int = 30) -> FloatArray:
    """Parameters of the refits for every row of ``cnt``, shape (n_params, B): chord steps
    ``θ ← θ + H^{-1} g_c(θ)`` from ``theta`` with the full-data Hessian's inverse ``hinv``
    until a round's estimated remaining error is below ``tol`` (module docstring)."""
    step = hinv @ _gradient_at_fit(d, rd, theta, cnt, reg, alpha)
    th: FloatArray = theta[:, None] + step
    last = np.max(np.abs(step), axis=0)
    todo = np.arange(cnt.shape[0])
    failed: list[int] = []
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(max_iter):
            sub = cnt if len(todo) == cnt.shape[0] else cnt[todo]
            step = hinv @ _gradients(d, rd, th[:, todo], sub, reg, alpha)
            th[:, todo] += step
            size = np.max(np.abs(step), axis=0)
            # linear convergence at rate ρ ≈ |s_t| / |s_{t-1}| leaves an error ≈ |s_t| ρ/(1 − ρ)
            rate = np.minimum(size / np.maximum(last[todo], 1e-300), 0.9)
            diverging = ~np.isfinite(size) | (size > 2.0 * last[todo])
            failed.extend(todo[diverging].tolist())
            left = ~diverging & (size * rate / (1.0 - rate) >= tol)
            last[todo] = size
            todo = todo[left]
            if not len(todo):
                break
    failed.extend(todo.tolist())
    if failed:  # the chord steps diverge or stall (a model with very few battles): refit
        from preflab.rank._style_control import fit_contextual

        for c in failed:
            th[:, c] = fit_contextual(d, weights=d.w * cnt[c], init=theta, reg=reg)
    return th


def _chunk(size: int, seed: np.random.SeedSequence) -> FloatArray:
    d, rd, theta, hinv, reg, alpha, tol = (
        _JOB[k] for k in ("design", "rounds", "theta", "hinv", "reg", "alpha", "tol"))
    cnt = _counts(np.random.default_rng(seed), len(d.y), size)
    out: FloatArray = replicates(d, rd, theta, hinv, cnt, reg, alpha, tol).T
    return out


def style_bootstrap(design: Any, theta: FloatArray, p_hat: FloatArray, hessian: FloatArray,
                    reg: float, n_rounds: int, rng: np.random.Generator | int | None, *,
                    alpha: float = float(np.log(10.0)), tol: float = 5e-5,
                    n_jobs: int | None = None, chunk: int = 10,
                    progress: Callable[..., None] | None = None) -> FloatArray:
    """Parameters ``(r, β)`` of ``n_rounds`` resampled fits, shape (n_rounds, n_params).

    ``theta``, ``p_hat``, ``hessian``: the full-data fit, its win probabilities and its
    penalised information matrix. ``tol``: a round stops when its estimated error is below
    ``tol`` (log10 units; 5e-5 is 0.02 rating point).
    ``n_jobs``: worker processes (default: all cores when the job is large enough to pay for
    forking, i.e. battles × rounds > 2e7; measured: forking two workers costs ~0.15 s of CPU,
    more than it saves at 100k battles × 100 rounds, ~0.2 s of CPU in all).
    """
    sizes = [min(chunk, n_rounds - i) for i in range(0, n_rounds, chunk)]
    seeds = _seed_sequence(rng).spawn(len(sizes))
    if n_jobs is None:
        n_jobs = (os.cpu_count() or 1) if len(design.y) * n_rounds > 2e7 else 1
    n_jobs = max(1, min(n_jobs, len(sizes)))
    _JOB.update(design=design, rounds=round_data(design, p_hat), theta=theta, reg=reg,
                alpha=alpha, tol=tol, hinv=np.linalg.inv(hessian))
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
