r"""liblinear's L1-regularised logistic regression (``L1R_LR``), replayed for many 3-feature fits.

AlpacaEval's LC GLM is fitted by scikit-learn's ``LogisticRegressionCV(solver="liblinear",
penalty="l1", tol=1e-4, random_state=123)``. liblinear [Fan08]_ solves each fit with
newGLMNET [Yuan12]_ and *stops early*: at a relative subgradient tolerance, after
a randomised coordinate-descent inner loop. On AlpacaEval's data the cross-validation scores
of neighbouring penalties differ by about 1e-6, less than this early stop moves them, so which
penalty wins — and hence the LC win rate, by up to 0.1 point — depends on the exact iterates.
To give AlpacaEval's numbers, this module replays the algorithm step by step (same initial point,
stopping rules, shrinking, line search, coordinate order and random stream), so the iterates
agree with liblinear's to rounding (~5e-13 on the shared data; checked in the tests).

The objective of one fit, over instances :math:`i` with labels :math:`y_i = \pm1` and
weights :math:`W_i`, is :math:`\lVert w\rVert_1 + C\sum_i W_i \log(1 + e^{-y_i w^\top x_i})`.
AlpacaEval gives each annotation two instances (label 1 with weight :math:`p\,s`, label 0
with weight :math:`(1-p)\,s`); they share :math:`x`, so the sums here run once over annotations
with the merged weight :math:`(p + (1-p))\,s`. What liblinear does that matters:

- instances of weight 0 are removed first; with :math:`l` instances left, :math:`n_+` of
  label 1 and :math:`n_-` of label 0, the stopping tolerance is
  :math:`\epsilon\,\max(\min(n_+, n_-), 1)/l` relative to the first subgradient norm;
- outer Newton iterations (at most ``max_iter``) build the quadratic model with
  :math:`H = X^\top D X + \nu I` (:math:`\nu = 10^{-12}`); since there are 3 features the
  inner coordinate descent uses the 3x3 :math:`H` (liblinear sums over instances; equal up to
  rounding);
- each inner sweep shuffles the active coordinates with sklearn's ``bounded_rand_int``
  (Lemire's method on ``std::mt19937`` seeded by the fit's seed); outer and inner shrinking;
  inner tolerance starting at 1 and divided by 4 after a one-sweep inner loop; an Armijo line
  search (:math:`\sigma = 0.01`, at most 20 halvings).

The seed of a fit is the ``k``-th draw of ``RandomState(random_state).randint(2**31 - 1)``
where ``k`` is the penalty's place in the path (scikit-learn draws one per liblinear call).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from preflab.rank._lc_newglmnet import Fits, inner_cd, outer_pass

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_SIGMA = 0.01
_MAX_LINESEARCH = 20
_SOFTPLUS3 = 1.0 / (6.0 * np.sqrt(3.0))  # max |d^3/dz^3 log(1 + e^z)|
_TRI_I, _TRI_J = np.triu_indices(3)
_ETA_SAFE = 700.0   # |w'x| below this: exp(w'x) and its products stay finite


def liblinear_seeds(random_state: int, n: int) -> list[int]:
    """The seeds scikit-learn hands liblinear for ``n`` successive fits of one path."""
    rs = np.random.RandomState(random_state)
    return [int(rs.randint(np.iinfo(np.int32).max)) for _ in range(n)]


@dataclass(frozen=True, slots=True)
class FitBlock:
    """Fits that share their rows: ``k`` fits on ``n`` rows (merged instance pairs).

    Group ``g`` has design ``designs[g]`` (n, 3) and instance weights ``w_pos[g]``,
    ``w_neg[g]`` (n,) of the label-1 and label-0 copies of each row; fit ``i`` uses group
    ``group[i]`` (ascending), penalty ``c[i]`` and seed ``seed[i]``. Rows of weight 0 in both
    copies are left out, as liblinear does (pad designs with such rows).
    """

    designs: FloatArray     # (G, n, 3)
    w_pos: FloatArray       # (G, n)
    w_neg: FloatArray
    group: IntArray
    c: FloatArray
    seed: IntArray


@dataclass
class _Block:
    """The row data of the live fits of one :class:`FitBlock` (rows aligned with ``fits``)."""

    x: FloatArray           # (G, n, 3)
    xt: FloatArray          # (G, 3, n)
    wsum: FloatArray        # (G, n) W+ + W-
    wx: FloatArray          # (G, n, 3) wsum * x
    wxx: FloatArray         # (G, n, 6) wsum * xx
    group: IntArray
    c: FloatArray           # (k, 1)
    fits: IntArray
    segs: list[tuple[int, slice]]

    @property
    def n(self) -> int:
        return int(self.wsum.shape[1])

    def keep(self, keep: BoolArray) -> None:
        """Drop the finished fits."""
        self.fits, self.group, self.c = self.fits[keep], self.group[keep], self.c[keep]
        self.segs = _segments(self.group)

    def exp_eta(self, w: FloatArray, out: FloatArray) -> FloatArray:
        """``exp(w'x)`` of every live fit (rows of ``w`` aligned with the fits) into ``out``."""
        for g, sl in self.segs:
            np.matmul(w[sl], self.xt[g], out=out[sl])
        np.exp(out, out=out)
        return out


def _segments(g: IntArray) -> list[tuple[int, slice]]:
    """(group, rows) runs of an ascending group vector."""
    cut = np.flatnonzero(np.diff(g)) + 1
    bounds = [0, *cut.tolist(), len(g)]
    return [(int(g[a]), slice(a, b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
            if b > a]


def liblinear_l1_logistic(
    blocks: Sequence[FitBlock],
    seed_values: Sequence[int],
    *,
    tol: float = 1e-4,
    max_iter: int = 100,
) -> tuple[list[FloatArray], list[IntArray]]:
    r"""The coefficients liblinear's ``L1R_LR`` returns, for many fits in lockstep.

    Each :class:`FitBlock` lists fits sharing rows; fit ``i`` of a block uses the random
    stream of ``seed_values[block.seed[i]]``. ``tol`` and ``max_iter`` are liblinear's ``eps``
    and Newton iteration cap (scikit-learn's ``tol``, ``max_iter``). Returns each block's
    (k, 3) coefficients and Newton iteration counts (scikit-learn's ``n_iter_``).
    """
    n_fit = sum(len(b.c) for b in blocks)
    pr = Fits.start(n_fit, list(seed_values))
    live: list[_Block] = []
    start = 0
    for blk in blocks:
        k = len(blk.c)
        fits = np.arange(start, start + k)
        start += k
        group = np.asarray(blk.group, dtype=np.int64)
        c = np.asarray(blk.c, dtype=np.float64)
        x = np.ascontiguousarray(blk.designs, dtype=np.float64)
        xt = np.ascontiguousarray(x.transpose(0, 2, 1))
        wp, wn = blk.w_pos, blk.w_neg
        npos = np.count_nonzero(wp, axis=1)[group]
        nneg = np.count_nonzero(wn, axis=1)[group]
        pr.n_inst[fits] = npos + nneg
        pr.eps[fits] = tol * np.maximum(np.minimum(npos, nneg), 1) / np.maximum(npos + nneg, 1)
        pr.sid[fits] = blk.seed
        wsum = wp + wn
        wx = wsum[:, :, None] * x
        wxx = wx[:, :, _TRI_I] * x[:, :, _TRI_J]
        pr.xjneg[fits] = c[:, None] * np.einsum("gn,gkn->gk", wn, xt)[group]
        pr.cxx[fits] = c[:, None] * np.einsum("gnk->gk", wxx)[group]
        pr.cwsum[fits] = c * wsum.sum(axis=1)[group]
        pr.xmax[fits] = np.abs(xt).max(axis=2, initial=0.0)[group]
        # liblinear's first iteration at w = 0 (e = 1): tau = C/2, D = C/4
        pr.grad[fits] = pr.xjneg[fits] - 0.5 * c[:, None] * np.einsum("gnk->gk", wx)[group]
        pr.hess[fits] = 0.25 * pr.cxx[fits]
        live.append(_Block(x, xt, wsum, wx, wxx, group, c[:, None], fits, _segments(group)))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        _run(pr, live, max_iter)
    if pr.overflow.any():
        logger.warning("%d of %d L1 logistic fits reached |w'x| >= %g (near-separable data): "
                       "liblinear may compute with inf/NaN there, and the replay follows its "
                       "order of operations but is only checked to agree where exp(w'x) "
                       "stays finite", int(pr.overflow.sum()), n_fit, _ETA_SAFE)
    out_w, out_it = [], []
    start = 0
    for blk in blocks:
        out_w.append(pr.w[start:start + len(blk.c)].copy())
        out_it.append(pr.n_iter[start:start + len(blk.c)].copy())
        start += len(blk.c)
    return out_w, out_it


def _run(pr: Fits, blocks: list[_Block], max_iter: int) -> None:
    size = max((len(b.fits) * b.n for b in blocks), default=0)
    scratch = [np.empty(size) for _ in range(3)]
    for newton in range(max_iter):
        rows = np.flatnonzero(pr.running)
        if len(rows) == 0:
            return
        active, gmax_new, gnorm1 = outer_pass(pr, rows)
        if newton == 0:
            pr.gnorm1_init[rows] = gnorm1
        stop = (gnorm1 <= pr.eps[rows] * pr.gnorm1_init[rows]) | (pr.qp_no_change[rows] >= 10)
        pr.running[rows[stop]] = False
        rows, active, gmax_new = rows[~stop], active[~stop], gmax_new[~stop]
        for b in blocks:   # drop finished fits from the blocks
            keep = pr.running[b.fits]
            if not keep.all():
                b.keep(keep)
        if len(rows) == 0:
            return
        pr.qp_no_change[rows] += 1
        d, sweeps = inner_cd(pr, rows, active)
        _line_search(pr, blocks, rows, d, scratch)
        pr.inner_eps[rows[sweeps == 1]] *= 0.25
        pr.n_iter[rows] += 1
        pr.gmax_old[rows] = gmax_new


def _view(buf: FloatArray, shape: tuple[int, int]) -> FloatArray:
    out: FloatArray = buf[:shape[0] * shape[1]].reshape(shape)
    return out


def _grad_hess(pr: Fits, b: _Block, e: FloatArray, scratch: list[FloatArray]) -> None:
    """liblinear's ``Grad`` and ``X'DX`` at ``e = exp(w'x)``: with instance weights ``C_i``,
    tau_i = C_i / (1 + e_i) and D_i = C_i e_i / (1 + e_i)^2 (instance pairs merged; the
    weights sit in the designs, C multiplies the sums)."""
    f = b.fits
    sig, q = (_view(s, e.shape) for s in scratch[1:])
    np.add(e, 1.0, out=sig)
    np.reciprocal(sig, out=sig)            # 1 / (1 + e)
    np.multiply(sig, sig, out=q)
    q *= e                                 # e / (1 + e)^2
    grad = np.empty((len(f), 3))
    hess = np.empty((len(f), 6))
    for g, sl in b.segs:   # small products: OpenBLAS stays single-threaded
        np.matmul(sig[sl], b.wx[g], out=grad[sl])
        np.matmul(q[sl], b.wxx[g], out=hess[sl])
    if not np.isfinite(hess).all():  # overflow on rows of weight 0 (liblinear skips them)
        for g, sl in b.segs:
            q[sl][:, b.wsum[g] == 0.0] = 0.0
            np.matmul(q[sl], b.wxx[g], out=hess[sl])
        pr.overflow[f[~np.isfinite(hess).all(axis=1)]] = True
    pr.grad[f] = pr.xjneg[f] - b.c * grad
    pr.hess[f] = b.c * hess
    big = np.flatnonzero(np.einsum("bk,bk->b", np.abs(pr.w[f]), pr.xmax[f]) >= _ETA_SAFE)
    pr.overflow[f[big]] = True
    for i in big.tolist():   # exp(w'x) may overflow: liblinear's operation order matters
        g = int(b.group[i])
        cw = np.where(b.wsum[g] != 0.0, b.c[i] * b.wsum[g], 0.0)
        t = 1.0 / (1.0 + e[i])
        tau_i, dd = cw * t, cw * e[i] * t * t
        live = cw != 0.0   # rows of weight 0 are not in liblinear's problem
        pr.grad[f[i]] = pr.xjneg[f[i]] - tau_i[live] @ b.x[g][live]
        xg = b.x[g][live]
        pr.hess[f[i]] = dd[live] @ (xg[:, _TRI_I] * xg[:, _TRI_J])


def _line_search(pr: Fits, blocks: list[_Block], rows: IntArray, d: FloatArray,
                 scratch: list[FloatArray]) -> None:
    r"""Armijo backtracking on the true objective, as liblinear (halving the step), then the
    gradient and Hessian at the new iterate.

    liblinear accepts the step when :math:`\mathrm{cond} = \Delta\lVert w\rVert_1 + \sum_i C_i
    \log\frac{1 + e_i'}{e^{u_i} + e_i'} + \sum_{y_i=-1} C_i u_i - \sigma\delta \le 0`
    (:math:`u = Xd`, :math:`e' = e^{w'x + u}`). By Taylor's theorem on the softplus,
    :math:`\mathrm{cond} = (1-\sigma)\delta + \tfrac12 d^\top X^\top D X d + R` with
    :math:`|R| \le \max|\mathrm{softplus}^{(3)}|/6 \cdot \max_i|u_i| \sum_i C_i u_i^2`,
    all known without a pass over the rows. Where that decides the sign with a margin far
    above rounding, the log pass is skipped; elsewhere cond is summed as liblinear does.
    liblinear carries :math:`e^{w'x}` multiplicatively from step to step; here it is
    recomputed from :math:`w` (equal up to rounding), so no per-row state is kept.
    """
    w, wpd = pr.w[rows], pr.wpd[rows]
    delta = np.einsum("bk,bk->b", pr.grad[rows], wpd - w)
    w_norm_new = np.abs(wpd).sum(axis=1)
    delta += w_norm_new - pr.w_norm[rows]
    negsum = np.einsum("bk,bk->b", d, pr.xjneg[rows])
    rest = w_norm_new - pr.w_norm[rows] + negsum - _SIGMA * delta
    umax = np.einsum("bk,bk->b", np.abs(d), pr.xmax[rows])
    quad = (1.0 - _SIGMA) * delta + 0.5 * _quad(pr.hess[rows], d)
    rem = _SOFTPLUS3 / 6.0 * umax * _quad(pr.cxx[rows], d)
    scale = pr.cwsum[rows] * (1.0 + umax) + np.abs(negsum) + np.abs(delta) + w_norm_new
    sure = np.abs(quad) > rem + 1e-10 * scale
    # where e^{w'x} could overflow, liblinear's sum is NaN (a rejection): sum it as it does
    sure &= np.maximum(np.einsum("bk,bk->b", np.abs(w), pr.xmax[rows]),
                       np.einsum("bk,bk->b", np.abs(wpd), pr.xmax[rows])) < _ETA_SAFE
    ok = quad <= 0.0
    pos = np.full(len(pr.w), -1, dtype=np.int64)
    pos[rows] = np.arange(len(rows))
    redo: list[_Block] = []
    for b in blocks:
        if not len(b.fits):
            continue
        p = pos[b.fits]
        e_new = b.exp_eta(wpd[p], _view(scratch[0], (len(p), b.n)))
        uns = np.flatnonzero(~sure[p])
        if len(uns):
            xtd = _view(scratch[1], (len(p), b.n))
            for g, sl in b.segs:
                np.matmul(d[p[sl]], b.xt[g], out=xtd[sl])
            ok[p[uns]] = _cond(b.c[uns] * b.wsum[b.group[uns]], np.exp(xtd[uns]), e_new[uns],
                               rest[p[uns]])
        if ok[p].all():
            _grad_hess(pr, b, e_new, scratch)
        else:
            redo.append(b)
    pr.w_norm[rows[ok]] = w_norm_new[ok]
    pr.w[rows[ok]] = wpd[ok]
    if ok.all():
        return
    bad = np.flatnonzero(~ok)
    stuck = _backtrack(pr, blocks, rows[bad], d[bad], w_norm_new[bad], delta[bad], negsum[bad])
    # liblinear keeps tau and D of the last accepted step after 20 failed halvings
    kept = pr.grad[stuck].copy(), pr.hess[stuck].copy()
    for b in redo:
        e = b.exp_eta(pr.w[b.fits], _view(scratch[0], (len(b.fits), b.n)))
        _grad_hess(pr, b, e, scratch)
    pr.grad[stuck], pr.hess[stuck] = kept


def _backtrack(pr: Fits, blocks: list[_Block], fits: IntArray, d: FloatArray,
               w_norm_new: FloatArray, delta: FloatArray, negsum: FloatArray) -> IntArray:
    """liblinear's halvings after a rejected full step (rare), one fit at a time; returns
    the fits where all 20 tries failed."""
    where = {int(f): (b, i) for b in blocks for i, f in enumerate(b.fits.tolist())}
    stuck = []
    for k, fit in enumerate(fits.tolist()):
        b, i = where[fit]
        g = int(b.group[i])
        xtd = d[k] @ b.xt[g]
        cw = (b.c[i] * b.wsum[g])[None]
        w, wpd = pr.w[fit], pr.wpd[fit].copy()
        e = np.exp(w @ b.xt[g])
        wn, dl, ns = w_norm_new[k], delta[k], negsum[k]
        for _ls in range(1, _MAX_LINESEARCH):
            wpd = (w + wpd) * 0.5
            wn = float(np.abs(wpd).sum())
            dl *= 0.5
            ns *= 0.5
            xtd *= 0.5
            ex = np.exp(xtd)
            rest = np.array([wn - pr.w_norm[fit] + ns - _SIGMA * dl])
            if _cond(cw, ex[None], (e * ex)[None], rest)[0]:
                pr.w_norm[fit], pr.w[fit] = wn, wpd
                break
        else:  # too many halvings: w stays
            stuck.append(fit)
        pr.wpd[fit] = wpd
    return np.asarray(stuck, dtype=np.int64)


def _quad(tri: FloatArray, d: FloatArray) -> FloatArray:
    """``d' A d`` for symmetric 3x3 ``A`` given by its 6 triu entries, row-wise."""
    out: FloatArray = (tri[:, 0] * d[:, 0] ** 2 + tri[:, 3] * d[:, 1] ** 2
                       + tri[:, 5] * d[:, 2] ** 2 + 2.0 * (tri[:, 1] * d[:, 0] * d[:, 1]
                       + tri[:, 2] * d[:, 0] * d[:, 2] + tri[:, 4] * d[:, 1] * d[:, 2]))
    return out


def _cond(cw: FloatArray, ex: FloatArray, e_new: FloatArray, rest: FloatArray) -> BoolArray:
    """liblinear's acceptance test ``rest + sum_i C_i log((1 + e_i') / (e^{u_i} + e_i')) <= 0``."""
    term = np.log((1.0 + e_new) / (ex + e_new))
    loss = np.einsum("bn,bn->b", cw, term)
    if not np.isfinite(loss).all():  # overflow on rows of weight 0 (liblinear skips them)
        loss = np.einsum("bn,bn->b", cw, np.where(cw > 0.0, term, 0.0))
    ok: BoolArray = rest + loss <= 0.0
    return ok
