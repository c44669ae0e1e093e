r"""AlpacaEval win rates against a baseline, with LC win rates (readers in ``_alpacaeval_io``).

Win rate [Li23]_, [Dubois24]_: with judge preferences :math:`y_x \in [1, 2]` (2 = the model's
output preferred; 1.5 a tie; a legacy 0 also means a tie),

.. math:: \mathrm{WR} = 100\cdot\overline{(y - 1)},\qquad
          \mathrm{SE} = 100\cdot\mathrm{sd}(y - 1)/\sqrt n

(sample sd). Rows without a preference (NaN) or outside [1, 2] are left out, as AlpacaEval does.
The discrete win rate rounds each preference to a win (> 1.5), a loss (< 1.5) or a draw
(= 1.5, half a win). ``n_wins``/``n_wins_base`` count preferences above/below 1.5,
``n_draws`` those equal to 1.5 (or 0).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from preflab._errors import ModelError
from preflab._json import json_number as num
from preflab.rank._alpacaeval_io import ALPACAEVAL_COLUMNS as ALPACAEVAL_COLUMNS
from preflab.rank._alpacaeval_io import DUPLICATES as DUPLICATES
from preflab.rank._alpacaeval_io import AlpacaEvalAnnotations, _gamed_lookup
from preflab.rank._alpacaeval_io import ModelAnnotations as ModelAnnotations
from preflab.rank._alpacaeval_io import read_alpacaeval_annotations as read_alpacaeval_annotations
from preflab.rank._alpacaeval_io import read_difficulty as read_difficulty
from preflab.rank._alpacaeval_io import read_gamed as read_gamed
from preflab.rank._lc_cv import N_SPLITS
from preflab.rank._length_controlled import (
    REGULARIZE_LAMBDA,
    GamedRows,
    estimate_difficulty,
    is_extreme_change,
    lc_win_rates,
    lookup_difficulty,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WinRateStats:
    """AlpacaEval's head-to-head numbers for one model (percentages)."""

    win_rate: float
    standard_error: float
    discrete_win_rate: float
    n_wins: int
    n_wins_base: int
    n_draws: int
    n_total: int


def win_rate_stats(preference: npt.ArrayLike) -> WinRateStats:
    """Win rate, its standard error and the discrete win rate from AlpacaEval preferences.

    ``preference`` holds values in [1, 2] (0 = legacy tie, NaN = not annotated).
    """
    y = np.asarray(preference, dtype=np.float64)
    n_draws = int(((y == 1.5) | (y == 0.0)).sum())
    y = np.where(y == 0.0, 1.5, y)
    valid = (y >= 1.0) & (y <= 2.0)  # NaN fails both
    d = y[valid] - 1.0
    n = len(d)
    wr = float(d.mean() * 100) if n else float("nan")
    se = float(d.std(ddof=1) / np.sqrt(n) * 100) if n > 1 else float("nan")
    # discrete: 1.5 -> draw, otherwise rounded to 1 or 2 (round half to even, as pandas)
    disc = np.where(d == 0.5, 0.5, np.round(d))
    return WinRateStats(
        win_rate=wr,
        standard_error=se,
        discrete_win_rate=float(disc.mean() * 100) if n else float("nan"),
        n_wins=int((d > 0.5).sum()),
        n_wins_base=int((d < 0.5).sum()),
        n_draws=n_draws,
        n_total=n,
    )

@dataclass(frozen=True, slots=True)
class ModelWinRate:
    """One row of the AlpacaEval board (percentages; LC fields NaN unless asked for)."""

    model: str
    win_rate: float
    standard_error: float
    lc_win_rate: float
    lc_standard_error: float
    discrete_win_rate: float
    n_wins: int
    n_wins_base: int
    n_draws: int
    n_total: int
    avg_length: int
    lc_C: float = float("nan")
    n_shifted_difficulty: int = 0


@dataclass(frozen=True, slots=True)
class WinRateBoard:
    """Win rates of every model against ``baseline``, sorted by (LC) win rate.

    ``difficulty_source`` says where the LC GLM's instruction difficulty came from
    (``"file"``, ``"gamed"`` — the column of the gamed-baseline file, as AlpacaEval —,
    ``"estimated"`` from these annotations, or ``"none"``); ``notes`` lists every caveat
    (quirks that applied, estimated inputs, extreme LC changes).
    """

    baseline: str
    models: tuple[ModelWinRate, ...]
    length_controlled: bool
    difficulty_source: str
    regularized: bool
    difficulty_lookup: str
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """The JSON layout of ``preflab winrate`` (percentages; NaN becomes ``None``)."""
        return {
            "baseline": self.baseline,
            "length_controlled": self.length_controlled,
            "difficulty_source": self.difficulty_source,
            "regularized": self.regularized,
            "difficulty_lookup": self.difficulty_lookup,
            "notes": list(self.notes),
            "models": [
                {"model": r.model, "win_rate": num(r.win_rate),
                 "standard_error": num(r.standard_error), "lc_win_rate": num(r.lc_win_rate),
                 "lc_standard_error": num(r.lc_standard_error),
                 "discrete_win_rate": num(r.discrete_win_rate), "n_wins": r.n_wins,
                 "n_wins_base": r.n_wins_base, "n_draws": r.n_draws, "n_total": r.n_total,
                 "avg_length": r.avg_length}
                for r in self.models
            ],
        }

def win_rate_board(
    annotations: AlpacaEvalAnnotations,
    *,
    length_controlled: bool = False,
    difficulty: FloatArray | None = None,
    gamed: GamedRows | None = None,
    difficulty_lookup: str = "position",
    regularize_lambda: float = REGULARIZE_LAMBDA,
    solver: str = "liblinear",
    progress: Callable[..., None] | None = None,
) -> WinRateBoard:
    """AlpacaEval's board: win rates and (optionally) LC win rates of every model.

    Difficulty for the LC GLM comes from ``difficulty`` (indexed by instruction), else from the
    gamed file's column (AlpacaEval's behaviour), else it is estimated from these annotations
    (:func:`estimate_difficulty`, noted in ``notes``). Without ``gamed`` the GLM is fitted
    without the regularisation towards the gamed baselines (also noted). ``solver`` is the LC
    GLM's solver (:func:`~preflab.rank.fit_lc_glm`): ``"liblinear"`` gives AlpacaEval's
    numbers, ``"exact"`` each fit's exact optimum. All models' GLMs are fitted in one batch.
    """
    notes: list[str] = []
    if annotations.n_dropped_duplicates:
        notes.append(f"{annotations.n_dropped_duplicates} repeated annotations were dropped "
                     "(--duplicates drop)")
    source, regularized = "none", False
    by_key: FloatArray | None = None
    base = annotations.baseline
    if length_controlled:
        regularized = gamed is not None
        if difficulty is not None:
            source, by_key = "file", difficulty
            if gamed is not None:
                g = _gamed_lookup(gamed, "instruction")
                n = min(len(g), len(difficulty))
                both = ~np.isnan(g[:n]) & ~np.isnan(difficulty[:n])
                if not np.allclose(g[:n][both], difficulty[:n][both], atol=1e-9):
                    notes.append("the difficulty file and the gamed file's difficulty column "
                                 "differ; AlpacaEval itself uses the gamed file's column, "
                                 "preflab uses --difficulty")
            if difficulty_lookup == "position":
                notes.append("instruction difficulty is looked up by row position, as "
                             "AlpacaEval does")
        elif gamed is not None:
            source, by_key = "gamed", _gamed_lookup(gamed, difficulty_lookup)
        else:
            source = "estimated"
            fit_models = [m for m in annotations.models if m.model != base]
            keys = [m.position if difficulty_lookup == "position" else
                    (m.instruction_index if m.instruction_index is not None else m.position)
                    for m in fit_models]
            n_x = int(max((int(k.max()) for k in keys if len(k)), default=-1)) + 1
            by_key = estimate_difficulty([m.preference for m in fit_models],
                                         [m.len_baseline for m in fit_models],
                                         [m.len_model for m in fit_models], keys, n_x)
            notes.append(
                f"instruction difficulty was ESTIMATED from these annotations ({len(fit_models)}"
                " models, joint GLM of AlpacaEval's notebook), not AlpacaEval's published file; "
                "pass --difficulty and --gamed to reproduce AlpacaEval")
        if not regularized:
            notes.append("no gamed-baseline annotations: the LC GLM is fitted without "
                         "AlpacaEval's regularisation (pass --gamed)")
    lc = _lc_columns(annotations, by_key if length_controlled else None, gamed,
                     regularize_lambda, difficulty_lookup, solver, notes)
    rows: list[ModelWinRate] = []
    for k, m in enumerate(annotations.models):
        st = win_rate_stats(m.preference)
        lc_wr, lc_se, c_best, shifted = lc[k]
        if length_controlled and is_extreme_change(st.win_rate, lc_wr):
            notes.append(f"{m.model}: LC win rate {lc_wr:.1f}% is very different from the "
                         f"raw {st.win_rate:.1f}% (AlpacaEval's sign of a failed GLM)")
        avg_len = int(np.mean(m.len_model)) if len(m.len_model) else 0
        rows.append(ModelWinRate(m.model, st.win_rate, st.standard_error, lc_wr, lc_se,
                                 st.discrete_win_rate, st.n_wins, st.n_wins_base, st.n_draws,
                                 st.n_total, avg_len, c_best, shifted))
        if progress is not None:
            progress(advance=1)
    for note in notes:
        logger.warning(note)
    def order(r: ModelWinRate) -> tuple[float, str]:
        v = -(r.lc_win_rate if length_controlled else r.win_rate)
        return (math.inf if math.isnan(v) else v, r.model)

    rows.sort(key=order)
    return WinRateBoard(base, tuple(rows), length_controlled, source, regularized,
                        difficulty_lookup, tuple(notes))


def _lc_columns(annotations: AlpacaEvalAnnotations, by_key: FloatArray | None,
                gamed: GamedRows | None, regularize_lambda: float, difficulty_lookup: str,
                solver: str, notes: list[str]) -> list[tuple[float, float, float, int]]:
    """(LC win rate, LC SE, chosen C, rows with shifted difficulty) of every model; NaN
    without ``by_key``. The GLMs of all models are fitted together."""
    nan = float("nan")
    out: list[tuple[float, float, float, int]] = [(nan, nan, nan, 0)] * len(annotations.models)
    if by_key is None:
        return out
    todo, diffs = [], []
    for k, m in enumerate(annotations.models):
        identical = bool(np.all(m.len_baseline == m.len_model)
                         and np.all((m.preference == 1.5) | (m.preference == 0.0)))
        if m.model == annotations.baseline or identical:
            out[k] = (50.0, 0.0, nan, 0)
            if m.model != annotations.baseline:
                notes.append(f"{m.model}: every output has the baseline's length and every "
                             "preference is a tie; LC win rate set to 50 as for the baseline")
            continue
        diff, shifted = lookup_difficulty(by_key, m.position, m.instruction_index,
                                          lookup=difficulty_lookup, model=m.model)
        if shifted:
            notes.append(
                f"{m.model}: {shifted} of {len(m.position)} rows take the difficulty of "
                "another instruction (AlpacaEval looks difficulty up by row position; "
                "--difficulty-lookup instruction corrects it)")
        n_ok = int(np.count_nonzero(~np.isnan(m.preference)))
        if n_ok < N_SPLITS:
            raise ModelError(f"model '{m.model}': {n_ok} annotated rows; the LC GLM's "
                             f"{N_SPLITS}-fold cross-validation needs at least {N_SPLITS}")
        todo.append(k)
        diffs.append(diff)
        out[k] = (nan, nan, nan, shifted)
    models = [annotations.models[k] for k in todo]
    fits = lc_win_rates([m.preference for m in models], [m.len_baseline for m in models],
                        [m.len_model for m in models], diffs, gamed=gamed,
                        regularize_lambda=regularize_lambda, solver=solver)
    for k, fit in zip(todo, fits, strict=True):
        out[k] = (fit.lc_win_rate, fit.lc_standard_error, fit.C, out[k][3])
    return out
