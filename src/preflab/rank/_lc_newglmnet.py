"""The per-fit steps of liblinear's newGLMNET that do not touch the rows (see _lc_liblinear).

With 3 features the inner coordinate descent needs only the 3x3 quadratic model, so every
step here is O(1) per fit and runs for all fits at once: the outer violation pass with
shrinking, and the randomised inner coordinate descent with its own shrinking. Names follow
liblinear's ``solve_l1r_lr`` (newGLMNET [Yuan12]_).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
UIntArray = npt.NDArray[np.uint64]

NU = 1e-12
_MAX_INNER = 1000
_MASK32 = np.uint64(0xFFFFFFFF)
_DIAG = np.array([0, 3, 5])              # the diagonal's slots among the 6 triu products
_TRI_FULL = np.array([[0, 1, 2], [1, 3, 4], [2, 4, 5]])
_STREAMS: dict[int, UIntArray] = {}


def mt19937_stream(seed: int, length: int) -> UIntArray:
    """The first ``length`` outputs of ``std::mt19937(seed)`` (cached per seed)."""
    have = _STREAMS.get(seed)
    if have is None or len(have) < length:
        # RandomState's integer seeding is mt19937's init_genrand, as std::mt19937::seed
        state = np.random.RandomState(seed).get_state(legacy=False)
        key = state["state"]["key"]
        bg = np.random.MT19937()
        bg.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": 624}}
        have = np.asarray(bg.random_raw(max(length, 2048)), dtype=np.uint64)
        _STREAMS[seed] = have
    return have[:length]


@dataclass
class Fits:
    """Per-fit state (index = fit), named as in liblinear's ``solve_l1r_lr``."""

    w: FloatArray
    wpd: FloatArray
    index: IntArray         # (P, 3) coordinate order
    grad: FloatArray
    hess: FloatArray        # (P, 6) triu of X'DX (without nu)
    xjneg: FloatArray       # (P, 3) sum of C_i x_i over label-0 instances
    cxx: FloatArray         # (P, 6) triu of sum_i C_i x_i x_i'
    cwsum: FloatArray       # (P,) sum_i C_i
    xmax: FloatArray        # (P, 3) largest |x_ij| of each column
    n_inst: FloatArray      # l: instances of non-zero weight
    eps: FloatArray
    w_norm: FloatArray
    gmax_old: FloatArray
    gnorm1_init: FloatArray
    qp_no_change: IntArray
    inner_eps: FloatArray
    n_iter: IntArray
    running: npt.NDArray[np.bool_]
    overflow: npt.NDArray[np.bool_]   # exp(w'x) overflowed on a row of non-zero weight
    seeds: list[int]
    stream: UIntArray       # (n_seeds, L) raw 32-bit draws
    sid: IntArray           # each fit's stream
    ptr: IntArray           # next draw of each fit

    @classmethod
    def start(cls, n_fit: int, seeds: list[int]) -> Fits:
        """All fits at w = 0, before liblinear's first iteration."""
        z3, z6 = np.zeros((n_fit, 3)), np.zeros((n_fit, 6))
        return cls(
            w=z3.copy(), wpd=z3.copy(), index=np.tile(np.arange(3), (n_fit, 1)),
            grad=z3.copy(), hess=z6.copy(), xjneg=z3.copy(), cxx=z6.copy(),
            cwsum=np.zeros(n_fit), xmax=z3.copy(), n_inst=np.zeros(n_fit),
            eps=np.zeros(n_fit), w_norm=np.zeros(n_fit), gmax_old=np.full(n_fit, np.inf),
            gnorm1_init=np.full(n_fit, -1.0), qp_no_change=np.zeros(n_fit, dtype=np.int64),
            inner_eps=np.ones(n_fit), n_iter=np.zeros(n_fit, dtype=np.int64),
            running=np.ones(n_fit, dtype=bool), overflow=np.zeros(n_fit, dtype=bool),
            seeds=seeds,
            stream=np.stack([mt19937_stream(s, 2048) for s in seeds]),
            sid=np.zeros(n_fit, dtype=np.int64), ptr=np.zeros(n_fit, dtype=np.int64))


def _bounded(pr: Fits, rows: IntArray, r: IntArray) -> IntArray:
    """sklearn's ``bounded_rand_int(r)`` for the fits ``rows`` (Lemire's multiply-shift)."""
    ru = r.astype(np.uint64)
    t = ((np.uint64(1) << np.uint64(32)) - ru) % ru
    m = np.zeros(len(rows), dtype=np.uint64)
    todo = np.arange(len(rows))
    while len(todo):  # redraws: probability 2**-32 per draw of range 3, never for 1 and 2
        if int(pr.ptr[rows[todo]].max()) + 1 >= pr.stream.shape[1]:
            length = 2 * pr.stream.shape[1]
            pr.stream = np.stack([mt19937_stream(s, length) for s in pr.seeds])
        x = pr.stream[pr.sid[rows[todo]], pr.ptr[rows[todo]]]
        pr.ptr[rows[todo]] += 1
        m[todo] = x * ru[todo]
        todo = todo[(m[todo] & _MASK32) < t[todo]]
    out: IntArray = (m >> np.uint64(32)).astype(np.int64)
    return out


def _cmax(x: FloatArray, y: FloatArray) -> FloatArray:
    """liblinear's ``max(x, y) = x > y ? x : y`` (NaN handling differs from ``np.maximum``)."""
    out: FloatArray = np.where(x > y, x, y)
    return out


def _swap(index: IntArray, rows: IntArray, a: IntArray, b: IntArray) -> None:
    va, vb = index[rows, a], index[rows, b]
    index[rows, a] = vb
    index[rows, b] = va


def outer_pass(pr: Fits, rows: IntArray) -> tuple[IntArray, FloatArray, FloatArray]:
    """The violation pass over the coordinates, with outer shrinking; returns the active
    counts and the subgradient norms (Gmax_new, Gnorm1_new) of ``rows``."""
    k = len(rows)
    active = np.full(k, 3, dtype=np.int64)
    s = np.zeros(k, dtype=np.int64)
    gmax = np.zeros(k)
    gnorm1 = np.zeros(k)
    thr = pr.gmax_old[rows] / pr.n_inst[rows]
    ar = np.arange(k)
    for _ in range(3):   # each step either processes or shrinks one coordinate
        live = s < active
        if not live.any():
            break
        a = ar[live]
        j = pr.index[rows[a], s[a]]
        g = pr.grad[rows[a], j]
        wj = pr.w[rows[a], j]
        gp, gn = g + 1.0, g - 1.0
        zero = wj == 0.0
        viol = np.where(wj > 0.0, np.abs(gp), np.abs(gn))
        viol = np.where(zero, np.where(gp < 0.0, -gp, np.where(gn > 0.0, gn, 0.0)), viol)
        shrink = zero & ~(gp < 0.0) & ~(gn > 0.0) & (gp > thr[a]) & (gn < -thr[a])
        sh = a[shrink]
        active[sh] -= 1
        _swap(pr.index, rows[sh], s[sh], active[sh])
        keep = a[~shrink]
        gmax[keep] = _cmax(gmax[keep], viol[~shrink])
        gnorm1[keep] += viol[~shrink]
        s[keep] += 1
    return active, gmax, gnorm1


def inner_cd(pr: Fits, rows: IntArray, active: IntArray) -> tuple[FloatArray, IntArray]:
    """The inner coordinate descent on the quadratic model, for all ``rows`` in lockstep;
    returns the accumulated step ``d`` (liblinear's ``xTd = X d``) and the sweep counts."""
    k = len(rows)
    ar = np.arange(k)
    d = np.zeros((k, 3))
    qpa = active.copy()
    qgmax_old = np.full(k, np.inf)
    n_sweep = np.zeros(k, dtype=np.int64)
    going = np.ones(k, dtype=bool)
    hfull = pr.hess[rows][:, _TRI_FULL]                # (k, 3, 3)
    hdiag = pr.hess[rows][:, _DIAG] + NU
    grad, w, wpd = pr.grad[rows], pr.w[rows], pr.wpd[rows]
    index = pr.index[rows]
    n_inst = pr.n_inst[rows]
    tol_in = pr.inner_eps[rows] * pr.gnorm1_init[rows]
    while going.any():
        g_idx = ar[going]
        qgmax_new = np.zeros(k)
        qgnorm1 = np.zeros(k)
        for j in range(3):   # shuffle: swap j with j + rand(QP_active_size - j)
            a = g_idx[qpa[g_idx] > j]
            if len(a) == 0:
                break
            pos = j + _bounded(pr, rows[a], qpa[a] - j)
            _swap(index, a, np.full(len(a), j), pos)
        s = np.zeros(k, dtype=np.int64)
        thr = qgmax_old / n_inst
        for _ in range(3):
            a = g_idx[s[g_idx] < qpa[g_idx]]
            if len(a) == 0:
                break
            j = index[a, s[a]]
            h = hdiag[a, j]
            g = (grad[a, j] + (wpd[a, j] - w[a, j]) * NU
                 + np.einsum("bk,bk->b", hfull[a, j], d[a]))
            gp, gn = g + 1.0, g - 1.0
            wj = wpd[a, j]
            zero = wj == 0.0
            viol = np.where(wj > 0.0, np.abs(gp), np.abs(gn))
            viol = np.where(zero, np.where(gp < 0.0, -gp, np.where(gn > 0.0, gn, 0.0)), viol)
            shrink = zero & ~(gp < 0.0) & ~(gn > 0.0) & (gp > thr[a]) & (gn < -thr[a])
            sh = a[shrink]
            qpa[sh] -= 1
            _swap(index, sh, s[sh], qpa[sh])
            a, j, h, gp, gn, wj, viol = (v[~shrink] for v in (a, j, h, gp, gn, wj, viol))
            z = np.where(gp < h * wj, -gp / h, np.where(gn > h * wj, -gn / h, -wj))
            s[a] += 1
            move = ~(np.abs(z) < 1.0e-12)      # (a NaN step is taken, as in C)
            a, j, z, viol = a[move], j[move], z[move], viol[move]
            z = np.where(z > -10.0, z, -10.0)  # C's min(max(z, -10), 10): NaN becomes -10
            z = np.where(z < 10.0, z, 10.0)
            pr.qp_no_change[rows[a]] = 0
            qgmax_new[a] = _cmax(qgmax_new[a], viol)
            qgnorm1[a] += viol
            wpd[a, j] += z
            d[a, j] += z
        n_sweep[g_idx] += 1
        ok = qgnorm1[g_idx] <= tol_in[g_idx]
        full = qpa[g_idx] == active[g_idx]
        stop = g_idx[(ok & full) | (n_sweep[g_idx] >= _MAX_INNER)]
        going[stop] = False
        react = g_idx[ok & ~full]
        qpa[react] = active[react]
        qgmax_old[react] = np.inf
        upd = g_idx[~ok]
        qgmax_old[upd] = qgmax_new[upd]
    pr.wpd[rows] = wpd
    pr.index[rows] = index
    return d, n_sweep


