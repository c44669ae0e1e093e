"""Instruction difficulty for the LC GLM: AlpacaEval's position lookup, and an estimate.

AlpacaEval downloads a per-instruction difficulty (``instruction_difficulty.csv``); offline,
:func:`estimate_difficulty` refits it from the annotations at hand as AlpacaEval's notebook
did, and :func:`lookup_difficulty` assigns it to rows (by position, AlpacaEval's quirk, or by
instruction).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from preflab._errors import DataError, ModelError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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
