r"""AlpacaEval 2.0 length-controlled (LC) win rate: the GLM, its cross-validated L1 fit, read-off.

For one model :math:`m` against the baseline, AlpacaEval 2.0 [Dubois24]_ fits the logistic GLM

.. math:: P(m \succ b \mid x) = \sigma\big(\theta_m + \phi_m \tanh(\Delta_x / \mathrm{sd}(\Delta))
          + \psi_m \gamma_x\big)

where :math:`\Delta_x = \mathrm{len}(b_x) - \mathrm{len}(m_x)` (characters; baseline minus model,
standardised by the sample standard deviation over the model's rows, *not* centred), and
:math:`\gamma_x` is the instruction difficulty. The target is the judge's soft preference
:math:`p_x = \text{preference} - 1 \in [0, 1]` (a legacy 0 is a tie, 0.5). The formula has no
intercept: :math:`\theta_m` multiplies ``not_gamed_baseline`` (1 on the model's rows).

Regularisation (``length_controlled_v1``): the annotations of two gamed baselines (the
baseline prompted to be verbose / concise) are appended with ``not_gamed_baseline = 0`` and
sample weight :math:`\lambda/2 = 0.1` each (:math:`\lambda = 0.2`), so they inform
:math:`\phi_m, \psi_m` only. The fit minimises, with weights :math:`w` (1 or 0.1),

.. math:: \lVert\beta\rVert_1 + C \sum_i w_i\,\big[-p_i\log\sigma(x_i\beta)
          - (1-p_i)\log\sigma(-x_i\beta)\big]

(the soft-label cross-entropy; AlpacaEval writes it as two weighted rows per annotation), with
:math:`C` picked from ``logspace(-4, 4, 10)`` by 5-fold grouped cross-validation on the weighted
soft log-loss, then refitted on all rows (scikit-learn ``LogisticRegressionCV``, liblinear).
Rows without a preference are left out of the fit. Folds: row :math:`g` of the stacked
(gamed rows first, then the model's rows) training table goes to fold
:math:`(N - 1 - g) \bmod 5`, which is what scikit-learn's ``GroupKFold`` does with groups of
equal size.

The LC win rate sets the length term to zero and averages over the model's rows,

.. math:: \mathrm{LC} = 100\cdot\frac1n\sum_x \sigma(\theta_m + \psi_m\gamma_x),\qquad
          \mathrm{SE} = 100\cdot\mathrm{sd}_x\big(\sigma(\theta_m + \psi_m\gamma_x)\big)/\sqrt n

(sample sd). We solve each L1 problem exactly (proximal Newton with coordinate descent on the
3-dimensional quadratic model) for all folds and penalties at once; liblinear stops at a
relative gradient tolerance of 1e-4, so the two agree to about 1e-4 points.

AlpacaEval quirk, reproduced by default: :math:`\gamma_x` is looked up by the *row position*
of the annotation in the model's file, not by the instruction; for a model with missing rows
the positions shift. See :func:`lookup_difficulty`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from preflab._errors import DataError, ModelError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

logger = logging.getLogger(__name__)

DEFAULT_CS: FloatArray = np.logspace(-4, 4, 10)
"""The penalty grid of scikit-learn's ``LogisticRegressionCV(Cs=10)``."""
REGULARIZE_LAMBDA = 0.2
N_SPLITS = 5


@dataclass(frozen=True, slots=True)
class GamedRows:
    """Annotations of the gamed baselines that regularise the GLM (``df_gamed.csv``).

    ``preference`` is in [0, 1]; ``std_delta_len`` already standardised; ``difficulty`` is the
    ``instruction_difficulty`` column and ``index`` the instruction index of each row.
    """

    preference: FloatArray
    std_delta_len: FloatArray
    difficulty: FloatArray
    index: IntArray


@dataclass(frozen=True, slots=True)
class LCFit:
    """The fitted GLM of one model and the LC win rate read off it (percent).

    ``weights`` are (length, difficulty, model) coefficients in AlpacaEval's column order
    (``np.tanh(std_delta_len)``, ``instruction_difficulty``, ``not_gamed_baseline``); ``C`` the
    penalty chosen by cross-validation; ``glm_preference`` the per-row length-free predictions.
    """

    lc_win_rate: float
    lc_standard_error: float
    weights: FloatArray
    C: float
    glm_preference: FloatArray


def _sigmoid(z: FloatArray) -> FloatArray:
    out: FloatArray = np.exp(-np.logaddexp(0.0, -z))
    return out


_TRI_I, _TRI_J = np.triu_indices(3)
_TRI_FULL = np.array([0, 1, 2, 1, 3, 4, 2, 4, 5])  # (i, j) of a 3x3 matrix -> its triu slot
_PATTERNS: FloatArray = np.array(np.meshgrid(*[[-1.0, 0.0, 1.0]] * 3, indexing="ij")
                                  ).reshape(3, -1).T  # the 27 sign patterns of a 3-vector


_ETA_CLIP = 34.538776394910684  # logit(1 - 1e-15): AlpacaEval clips probabilities at 1e-15


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


def fit_lc_glm(
    x: FloatArray,
    p: FloatArray,
    sample_weight: FloatArray,
    *,
    cs: FloatArray = DEFAULT_CS,
    n_splits: int = N_SPLITS,
) -> tuple[FloatArray, float]:
    """Cross-validated L1 soft-label logistic fit, as AlpacaEval's ``fit_LogisticRegressionCV``.

    Returns the refitted coefficients and the chosen ``C``. The CV score of a fold is the
    weighted soft log-likelihood averaged over the fold's rows (clipped at 1e-15); ``C``
    maximises the mean over folds (first on ties), then the fit is redone on all rows.
    """
    n = len(p)
    if n < n_splits:
        raise ModelError(f"{n} annotated rows cannot be split into {n_splits} folds")
    fold = (n - 1 - np.arange(n)) % n_splits
    n_c = len(cs)
    # problems: (fold, C) pairs then nothing else; train weights zero out the test fold
    w_cv = np.empty((n_splits * n_c, n))
    for f in range(n_splits):
        w_cv[f * n_c:(f + 1) * n_c] = np.where(fold != f, sample_weight, 0.0)
    c_cv = np.tile(cs, n_splits)  # problem k: fold k // n_c, C = cs[k % n_c]
    # the full-data path for every C: warm starts for the folds, and the refit itself
    top = l1_soft_logistic(x, p, sample_weight[None, :], cs[-1:])
    full = l1_soft_logistic(x, p, np.repeat(sample_weight[None, :], n_c, axis=0), cs,
                            init=np.repeat(top, n_c, axis=0))
    beta_cv = l1_soft_logistic(x, p, w_cv, c_cv, init=np.tile(full, (n_splits, 1)),
                               overwrite_w=True)
    # score each fold's problems on its test rows only:
    # p log q + (1 - p) log(1 - q) = p eta - log(1 + e^eta), q = sigma(eta) clipped at 1e-15
    scores = np.empty((n_splits, n_c))
    for f in range(n_splits):
        test = fold == f
        eta = np.clip(beta_cv[f * n_c:(f + 1) * n_c] @ x[test].T, -_ETA_CLIP, _ETA_CLIP)
        ll = sample_weight[test] * (p[test] * eta - np.logaddexp(0.0, eta))
        scores[f] = ll.mean(axis=1)
    best = int(np.argmax(scores.mean(axis=0)))
    c_best = float(cs[best])
    return full[best], c_best


def lc_win_rate(
    preference: npt.ArrayLike,
    len_baseline: npt.ArrayLike,
    len_model: npt.ArrayLike,
    difficulty: npt.ArrayLike,
    *,
    gamed: GamedRows | None = None,
    regularize_lambda: float | None = REGULARIZE_LAMBDA,
    cs: FloatArray = DEFAULT_CS,
    n_splits: int = N_SPLITS,
) -> LCFit:
    """LC win rate of one model against the baseline (AlpacaEval ``length_controlled_v1``).

    Parameters
    ----------
    preference : AlpacaEval preferences in [1, 2] (0 = legacy tie; NaN = not annotated, kept
        for the read-off, left out of the fit).
    len_baseline, len_model : output lengths in characters (``output_1``, ``output_2``).
    difficulty : instruction difficulty of each row (already looked up, see
        :func:`lookup_difficulty`).
    gamed : the gamed-baseline rows; ``None`` fits without regularisation.
    regularize_lambda : total weight of the gamed rows (AlpacaEval: 0.2, split over the two).
    """
    pref = np.asarray(preference, dtype=np.float64)
    pref = np.where(pref == 0.0, 1.5, pref) - 1.0
    delta = np.asarray(len_baseline, dtype=np.float64) - np.asarray(len_model, dtype=np.float64)
    n = len(delta)
    sd = float(np.std(delta, ddof=1)) if n > 1 else 0.0
    if not np.isfinite(sd) or sd == 0.0:
        raise ModelError("all outputs have the same length difference to the baseline; the "
                         "length term of the LC GLM is not identified")
    diff = np.asarray(difficulty, dtype=np.float64)
    x_model = np.column_stack([np.tanh(delta / sd), diff, np.ones(n)])
    keep = ~np.isnan(pref)
    xs, ps, ws = [x_model[keep]], [pref[keep]], [np.ones(int(keep.sum()))]
    if gamed is not None and regularize_lambda:
        g_keep = ~np.isnan(gamed.preference)
        xs.insert(0, np.column_stack([np.tanh(gamed.std_delta_len), gamed.difficulty,
                                      np.zeros(len(gamed.preference))])[g_keep])
        ps.insert(0, gamed.preference[g_keep])
        ws.insert(0, np.full(int(g_keep.sum()), regularize_lambda / 2.0))
    beta, c_best = fit_lc_glm(np.vstack(xs), np.concatenate(ps), np.concatenate(ws),
                              cs=cs, n_splits=n_splits)
    glm = _sigmoid(beta[2] + beta[1] * diff)
    se = float(np.std(glm, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return LCFit(float(glm.mean() * 100), se * 100, beta, c_best, glm)


def lookup_difficulty(
    by_index: FloatArray,
    position: IntArray,
    instruction_index: IntArray | None,
    *,
    lookup: str = "position",
    model: str = "",
) -> tuple[FloatArray, int]:
    """Instruction difficulty of each row; returns ``(difficulty, n_shifted)``.

    ``lookup="position"`` reproduces AlpacaEval: row ``k`` of a model's annotations gets the
    difficulty of instruction ``k``. ``n_shifted`` counts rows whose instruction index (when
    known) differs from their position, i.e. rows that get another instruction's difficulty.
    ``lookup="instruction"`` uses the instruction index (the corrected behaviour).
    """
    keys = position if lookup == "position" else instruction_index
    if keys is None:
        raise DataError(f"model '{model}': --difficulty-lookup instruction needs an "
                        "instruction_index column", field="instruction_index",
                        fix="Add the 0-based index of each instruction in AlpacaEval order, "
                            "or use the default position lookup.")
    if lookup not in ("position", "instruction"):
        raise ModelError(f"unknown difficulty lookup '{lookup}'; use position or instruction")
    if len(keys) and (keys.min() < 0 or keys.max() >= len(by_index)):
        raise DataError(f"model '{model}': {lookup} {int(keys.max())} has no instruction "
                        f"difficulty (the difficulty table has {len(by_index)} entries)",
                        fix="Give a difficulty table covering every instruction.")
    out = by_index[keys]
    if np.isnan(out).any():
        raise DataError(f"model '{model}': missing instruction difficulty for "
                        f"{int(np.isnan(out).sum())} rows",
                        fix="Give a difficulty table covering every instruction.")
    shifted = 0
    if instruction_index is not None and lookup == "position":
        shifted = int((position != instruction_index).sum())
    return out, shifted


def is_extreme_change(win_rate: float, lc: float, abs_diff: float = 10.0,
                      rel_diff: float = 4.0) -> bool:
    """AlpacaEval's warning rule: the LC rate moved by more than ``abs_diff`` or a ``rel_diff``
    share of the room on that side (a sign the GLM may have failed)."""
    too_small = lc < min(win_rate - win_rate / rel_diff, win_rate - abs_diff)
    too_large = lc > max(win_rate + (100 - win_rate) / rel_diff, win_rate + abs_diff)
    return bool(too_small or too_large)


def estimate_difficulty(
    preference: list[FloatArray],
    len_baseline: list[IntArray],
    len_model: list[IntArray],
    key: list[IntArray],
    n_instructions: int,
) -> FloatArray:
    r"""Instruction difficulty from a joint GLM over many models (AlpacaEval's notebook).

    ``notebooks/instruction_difficulty.ipynb`` of AlpacaEval fits, over all models' rows,

    .. math:: \mathrm{logit}\,P(m \succ b \mid x) = \theta_m
              + \phi_m \tanh(\Delta_{mx}/\mathrm{sd}_m)
              + \gamma_x

    with one difficulty :math:`\gamma_x` per instruction (the first fixed at 0) and reads
    :math:`\gamma` off as the difficulty. We maximise the soft-label likelihood exactly
    (Newton; the instruction block of the Hessian is diagonal, so each step solves only a
    2M x 2M Schur complement); the notebook's cross-validated L1 penalty is left out.
    ``key`` is each row's instruction key (position or index). Instructions no model saw
    get NaN.
    """
    n_m = len(preference)
    ys, ts, ms, ks = [], [], [], []
    for i, (y, l1, l2, k) in enumerate(zip(preference, len_baseline, len_model, key,
                                           strict=True)):
        y = np.where(np.asarray(y) == 0.0, 1.5, np.asarray(y, dtype=np.float64)) - 1.0
        delta = np.asarray(l1, dtype=np.float64) - np.asarray(l2, dtype=np.float64)
        sd = float(np.std(delta, ddof=1)) if len(delta) > 1 else 0.0
        ok = ~np.isnan(y) & (np.asarray(l2) != 0)
        ys.append(y[ok])
        ts.append(np.tanh(delta[ok] / sd) if sd > 0 else np.zeros(int(ok.sum())))
        ms.append(np.full(int(ok.sum()), i))
        ks.append(np.asarray(k)[ok])
    y, t = np.concatenate(ys), np.concatenate(ts)
    m, k = np.concatenate(ms), np.concatenate(ks).astype(np.int64)
    n_x = n_instructions
    seen = np.bincount(k, minlength=n_x) > 0
    ref = int(np.argmax(seen))  # the first instruction seen is the reference (gamma = 0)
    free = seen.copy()
    free[ref] = False
    a, b, g = np.zeros(n_m), np.zeros(n_m), np.zeros(n_x)

    def loss(a: FloatArray, b: FloatArray, g: FloatArray) -> float:
        eta = a[m] + b[m] * t + g[k]
        return float((np.logaddexp(0.0, eta) - y * eta).sum())

    f = loss(a, b, g)
    for _ in range(100):
        eta = a[m] + b[m] * t + g[k]
        mu = 1.0 / (1.0 + np.exp(-eta))
        r, v = mu - y, mu * (1.0 - mu)
        ga, gb, gg = (np.bincount(m, r, n_m), np.bincount(m, r * t, n_m),
                      np.bincount(k, r, n_x))
        # Hessian blocks: per-model 2x2 (A), diagonal over instructions (D), cross (B)
        a11, a12, a22 = (np.bincount(m, v, n_m), np.bincount(m, v * t, n_m),
                         np.bincount(m, v * t * t, n_m))
        dd = np.bincount(k, v, n_x)
        cell = m * n_x + k
        b_a = np.bincount(cell, v, n_m * n_x).reshape(n_m, n_x)[:, free]
        b_b = np.bincount(cell, v * t, n_m * n_x).reshape(n_m, n_x)[:, free]
        big_a = np.zeros((2 * n_m, 2 * n_m))
        ii = np.arange(n_m)
        big_a[ii, ii], big_a[ii, ii + n_m] = a11, a12
        big_a[ii + n_m, ii], big_a[ii + n_m, ii + n_m] = a12, a22
        big_b = np.vstack([b_a, b_b])
        d_inv = 1.0 / dd[free]
        schur = big_a - (big_b * d_inv) @ big_b.T
        rhs = -np.concatenate([ga, gb]) + big_b @ (d_inv * gg[free])
        dab = np.linalg.solve(schur + 1e-12 * np.eye(2 * n_m), rhs)
        dg = np.zeros(n_x)
        dg[free] = d_inv * (-gg[free] - big_b.T @ dab)
        step = 1.0
        for _ls in range(30):
            f_new = loss(a + step * dab[:n_m], b + step * dab[n_m:], g + step * dg)
            if f_new <= f + 1e-12 * abs(f):
                break
            step *= 0.5
        a, b, g = a + step * dab[:n_m], b + step * dab[n_m:], g + step * dg
        moved = step * max(float(np.max(np.abs(dab))), float(np.max(np.abs(dg))))
        f = f_new
        if moved < 1e-10:
            break
    out: FloatArray = np.where(seen, g - g[ref], np.nan)
    return out
