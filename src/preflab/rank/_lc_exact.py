r"""Exact L1-penalised soft-label logistic regression with 3 features, many problems at once.

Used by the LC GLM with ``solver="exact"`` (the true optimum of each penalised fit, rather than
liblinear's early-stopped iterate that AlpacaEval reports). Proximal Newton: each step
minimises the local quadratic model plus the L1 norm exactly, by solving the linear system of
each of the 27 sign patterns of a 3-vector, then backtracks on the true objective.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_TRI_I, _TRI_J = np.triu_indices(3)
_TRI_FULL = np.array([0, 1, 2, 1, 3, 4, 2, 4, 5])  # (i, j) of a 3x3 matrix -> its triu slot
_PATTERNS: FloatArray = np.array(np.meshgrid(*[[-1.0, 0.0, 1.0]] * 3, indexing="ij")
                                  ).reshape(3, -1).T  # the 27 sign patterns of a 3-vector


class _Work:
    """Preallocated (B, n) buffers: fresh arrays of this size cost more than the arithmetic.

    Methods work on the first ``k`` rows (the problems still iterating).
    """

    def __init__(self, shape: tuple[int, int]) -> None:
        self.eta, self.d_eta, self.eta_new, self.e, self.sp, self.mu, self.t1, self.t2 = (
            np.empty(shape) for _ in range(8))
        self.pos = np.empty(shape, dtype=bool)

    def eta_of(self, beta: FloatArray, xt: FloatArray, out: FloatArray) -> FloatArray:
        """Linear predictor ``beta @ x.T`` into the first ``len(beta)`` rows of ``out``."""
        np.einsum("bk,kn->bn", beta, xt, out=out[:len(beta)])  # no threaded BLAS for k = 3
        return out

    def softplus_sigmoid(self, eta: FloatArray, k: int, softplus: bool = True) -> None:
        """``sp = log(1 + e^eta)`` (if asked) and ``mu = sigma(eta)`` on rows ``[:k]``."""
        eta = eta[:k]
        e, sp, mu, t1, pos = self.e[:k], self.sp[:k], self.mu[:k], self.t1[:k], self.pos[:k]
        if not softplus:  # mu = 1 / (1 + e^-eta); e^-eta may overflow to inf, giving mu = 0
            with np.errstate(over="ignore"):
                np.negative(eta, out=e)
                np.exp(e, out=e)
            e += 1.0
            np.reciprocal(e, out=mu)
            return
        np.abs(eta, out=e)
        np.negative(e, out=e)
        np.exp(e, out=e)
        if softplus:
            np.log1p(e, out=sp)
            np.maximum(eta, 0.0, out=t1)
            sp += t1
        np.add(e, 1.0, out=t1)
        np.divide(e, t1, out=mu)                     # sigma(-|eta|)
        np.greater_equal(eta, 0.0, out=pos)
        np.subtract(1.0, mu, out=mu, where=pos)

    def objective(self, beta: FloatArray, eta: FloatArray, p: FloatArray,
                  cw: FloatArray) -> FloatArray:
        """``|beta|_1 + sum C w xent`` with xent(p, eta) = log(1 + e^eta) - p eta (uses ``sp``)."""
        k = len(beta)
        t1 = self.t1[:k]
        np.multiply(eta[:k], p, out=t1)
        np.subtract(self.sp[:k], t1, out=t1)
        t1 *= cw[:k]
        out: FloatArray = np.abs(beta).sum(axis=1) + t1.sum(axis=1)
        return out


def _l1_quadratic(a: FloatArray, h: FloatArray, guess: FloatArray | None = None) -> FloatArray:
    """Exact ``argmin_z a.z + z'Hz/2 + |z|_1`` for (B, 3) ``a`` and (B, 3, 3) ``h``.

    The minimiser solves the linear system of its own sign pattern. First the pattern of
    ``guess`` (the current iterate) is tried and accepted where it meets the optimality
    conditions; elsewhere all 27 patterns are solved and the best sign-consistent one kept
    (the all-zero pattern is always consistent).
    """
    out: FloatArray = np.empty_like(a)
    todo = np.ones(len(a), dtype=bool)
    if guess is not None:
        sg = np.sign(guess)
        free = sg != 0.0
        m = np.where(free[:, :, None] & free[:, None, :], h, 0.0) + np.where(
            free, 0.0, 1.0)[:, :, None] * np.eye(3)
        z = np.linalg.solve(m, np.where(free, -(a + sg), 0.0)[..., None])[..., 0]
        g = a + np.einsum("bij,bj->bi", h, z)   # gradient of the smooth part at z
        ok = np.all(np.where(free, np.sign(z) == sg, np.abs(g) <= 1.0), axis=1)
        out[ok] = z[ok]
        todo = ~ok
        if not todo.any():
            return out
    a, h = a[todo], h[todo]
    s = _PATTERNS                                        # (P, 3)
    free = s != 0.0
    mask = free[:, :, None] & free[:, None, :]           # (P, 3, 3)
    m = np.where(mask[None], h[:, None], 0.0) + np.where(free, 0.0, 1.0)[None, :, :, None] \
        * np.eye(3)[None, None]
    rhs = np.where(free[None], -(a[:, None, :] + s[None]), 0.0)  # (B, P, 3)
    z = np.linalg.solve(m, rhs[..., None])[..., 0]
    ok = np.all(np.where(free[None], np.sign(z) == s[None], True), axis=2)
    val = np.einsum("bpi,bi->bp", z, a) + 0.5 * np.einsum("bpi,bij,bpj->bp", z, h, z) \
        + np.abs(z).sum(axis=2)
    val = np.where(ok, val, np.inf)
    out[todo] = z[np.arange(len(a)), np.argmin(val, axis=1)]
    return out


def l1_soft_logistic(
    x: FloatArray,
    p: FloatArray,
    w: FloatArray,
    c: FloatArray,
    *,
    init: FloatArray | None = None,
    tol: float = 1e-5,
    max_iter: int = 100,
    overwrite_w: bool = False,
) -> FloatArray:
    r"""Solve B L1-penalised soft-label logistic regressions with 3 features at once, exactly.

    Minimises :math:`\lVert\beta_b\rVert_1 + C_b\sum_i w_{bi}\,\mathrm{xent}(p_i, x_i\beta_b)`
    for each problem ``b`` (no intercept): the liblinear objective of scikit-learn's
    ``LogisticRegression(penalty="l1")`` with sample weights. Proximal Newton: each step
    minimises the local quadratic model plus the L1 norm exactly (:func:`_l1_quadratic`),
    then backtracks on the true objective; it stops after a step that moved no coefficient by
    more than ``tol`` (relative): Newton converges quadratically, so the error left is
    about tol² (1e-10 by default).

    Parameters
    ----------
    x : (n, 3) design; p : (n,) targets in [0, 1]; w : (B, n) row weights (0 leaves a row out);
    c : (B,) penalties; init : (B, 3) warm start; overwrite_w : ``w`` may be used as scratch.
    """
    n_prob = w.shape[0]
    c = np.asarray(c, dtype=np.float64)
    xt = np.ascontiguousarray(x.T)
    # the 6 distinct products x_i x_j, rows contiguous: "bn,kn->bk" runs along memory
    xxt = np.ascontiguousarray((x[:, _TRI_I] * x[:, _TRI_J]).T)
    beta = np.zeros((n_prob, 3)) if init is None else np.array(init, dtype=np.float64)
    # KKT at zero: if |C grad(0)|_inf <= 1 the solution is exactly zero
    zero = np.max(np.abs(c[:, None] * np.einsum("bn,kn->bk", w * (0.5 - p), xt)),
                  axis=1) <= 1.0
    beta[zero] = 0.0
    idx = np.flatnonzero(~zero)            # problems still iterating, kept in rows [:k]
    k = len(idx)
    if k == 0:
        return beta
    ws = _Work((k, w.shape[1]))
    cw = w[idx] if k < n_prob else (w if overwrite_w else w.copy())
    cw *= c[idx, None]
    b = beta[idx]
    ws.eta_of(b, xt, ws.eta)
    ws.softplus_sigmoid(ws.eta, k)
    f_old = ws.objective(b, ws.eta, p, cw)
    for _ in range(max_iter):
        t1, t2, mu = ws.t1[:k], ws.t2[:k], ws.mu[:k]
        np.subtract(mu, p, out=t1)
        t1 *= cw[:k]
        grad = np.einsum("bn,kn->bk", t1, xt)
        np.subtract(1.0, mu, out=t2)
        t2 *= mu
        t2 *= cw[:k]
        hess = np.einsum("bn,kn->bk", t2, xxt)[:, _TRI_FULL].reshape(-1, 3, 3)
        step = _l1_quadratic(grad - np.einsum("bij,bj->bi", hess, b), hess, b) - b
        eta_new = ws.eta_new[:k]
        # small steps (near the optimum, e.g. from a warm start) are Newton's full steps,
        # taken without evaluating the objective; larger ones backtrack on it
        sure = float(np.max(np.abs(step))) < 0.05
        t = np.ones(k)
        if sure:
            ws.eta_of(b + step, xt, ws.eta_new)
            ws.softplus_sigmoid(ws.eta_new, k, softplus=False)
        d_eta = ws.d_eta[:k] if sure else ws.eta_of(step, xt, ws.d_eta)[:k]
        for _ls in range(0 if sure else 40):
            np.multiply(d_eta, t[:, None], out=eta_new)
            eta_new += ws.eta[:k]
            ws.softplus_sigmoid(ws.eta_new, k)
            f_new = ws.objective(b + t[:, None] * step, ws.eta_new, p, cw)
            bad = f_new > f_old + 1e-13 * np.abs(f_old)
            if not bad.any():
                f_old = np.minimum(f_new, f_old)
                break
            t = np.where(bad, t * 0.5, t)
        new = b + t[:, None] * step
        done = np.max(np.abs(new - b), axis=1) <= tol * (1.0 + np.max(np.abs(new), axis=1))
        beta[idx] = new
        ws.eta, ws.eta_new = ws.eta_new, ws.eta
        if done.all():
            break
        b = new
        if done.any():  # move the unfinished problems to the front rows
            keep = np.flatnonzero(~done)
            for arr in (ws.eta, ws.mu, cw):
                arr[:len(keep)] = arr[keep]
            idx, b, f_old = idx[keep], b[keep], f_old[keep]
            k = len(keep)
    return beta
