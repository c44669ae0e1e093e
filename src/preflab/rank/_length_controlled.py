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
soft log-loss, then refitted on all rows (scikit-learn ``LogisticRegressionCV``, liblinear;
see :mod:`._lc_cv`). Rows without a preference are left out of the fit.

The LC win rate sets the length term to zero and averages over the model's rows,

.. math:: \mathrm{LC} = 100\cdot\frac1n\sum_x \sigma(\theta_m + \psi_m\gamma_x),\qquad
          \mathrm{SE} = 100\cdot\mathrm{sd}_x\big(\sigma(\theta_m + \psi_m\gamma_x)\big)/\sqrt n

(sample sd). By default every fit replays liblinear's iterations (:mod:`._lc_liblinear`),
early stop included, so the numbers are AlpacaEval's to rounding; ``solver="exact"`` gives
the exact optimum of each fit instead (which can pick another :math:`C`, see :mod:`._lc_cv`).
Many models are fitted together (:func:`lc_win_rates`).

AlpacaEval quirk, reproduced by default: :math:`\gamma_x` is looked up by the *row position*
of the annotation in the model's file, not by the instruction; for a model with missing rows
the positions shift. See :func:`lookup_difficulty`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from preflab._errors import ModelError
from preflab.rank._lc_cv import DEFAULT_CS, N_SPLITS, fit_lc_glms
from preflab.rank._lc_cv import SOLVERS as SOLVERS
from preflab.rank._lc_cv import fit_lc_glm as fit_lc_glm
from preflab.rank._lc_difficulty import estimate_difficulty as estimate_difficulty
from preflab.rank._lc_difficulty import lookup_difficulty as lookup_difficulty
from preflab.rank._lc_exact import l1_soft_logistic as l1_soft_logistic

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

logger = logging.getLogger(__name__)

REGULARIZE_LAMBDA = 0.2


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


def _design(preference: npt.ArrayLike, len_baseline: npt.ArrayLike, len_model: npt.ArrayLike,
            difficulty: npt.ArrayLike, gamed: GamedRows | None,
            regularize_lambda: float | None) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The stacked training table of one model: design (gamed rows first), targets, weights."""
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
    return np.vstack(xs), np.concatenate(ps), np.concatenate(ws)


def lc_win_rates(
    preferences: Sequence[npt.ArrayLike],
    len_baselines: Sequence[npt.ArrayLike],
    len_models: Sequence[npt.ArrayLike],
    difficulties: Sequence[npt.ArrayLike],
    *,
    gamed: GamedRows | None = None,
    regularize_lambda: float | None = REGULARIZE_LAMBDA,
    cs: FloatArray = DEFAULT_CS,
    n_splits: int = N_SPLITS,
    solver: str = "liblinear",
) -> list[LCFit]:
    """:func:`lc_win_rate` of many models (one entry per model in each sequence), fitted
    together: with ``solver="liblinear"`` all models' cross-validation fits run in one batch.
    """
    problems = [_design(*a, gamed, regularize_lambda) for a in
                zip(preferences, len_baselines, len_models, difficulties, strict=True)]
    fits = fit_lc_glms(problems, cs=cs, n_splits=n_splits, solver=solver)
    out = []
    for (beta, c_best), diff in zip(fits, difficulties, strict=True):
        glm = _sigmoid(beta[2] + beta[1] * np.asarray(diff, dtype=np.float64))
        n = len(glm)
        se = float(np.std(glm, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        out.append(LCFit(float(glm.mean() * 100), se * 100, beta, c_best, glm))
    return out


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
    solver: str = "liblinear",
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
    solver : ``"liblinear"`` (AlpacaEval's numbers) or ``"exact"`` (each fit's optimum).
    """
    return lc_win_rates([preference], [len_baseline], [len_model], [difficulty], gamed=gamed,
                        regularize_lambda=regularize_lambda, cs=cs, n_splits=n_splits,
                        solver=solver)[0]


def is_extreme_change(win_rate: float, lc: float, abs_diff: float = 10.0,
                      rel_diff: float = 4.0) -> bool:
    """AlpacaEval's warning rule: the LC rate moved by more than ``abs_diff`` or a ``rel_diff``
    share of the room on that side (a sign the GLM may have failed)."""
    too_small = lc < min(win_rate - win_rate / rel_diff, win_rate - abs_diff)
    too_large = lc > max(win_rate + (100 - win_rate) / rel_diff, win_rate + abs_diff)
    return bool(too_small or too_large)
