r"""AlpacaEval win rates against a baseline, and the reader of AlpacaEval annotation files.

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
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from preflab._errors import DataError
from preflab.data._io import read_table
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

ALPACAEVAL_COLUMNS = ("generator_1", "output_1", "generator_2", "output_2", "preference")
DUPLICATES = ("error", "drop", "keep")


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
class ModelAnnotations:
    """One model's annotations against the baseline, in file order.

    ``position`` is the row's place among the model's rows (AlpacaEval's ``index``);
    ``instruction_index`` the instruction's place in AlpacaEval order when the file has it.
    """

    model: str
    preference: FloatArray
    len_baseline: IntArray
    len_model: IntArray
    position: IntArray
    instruction_index: IntArray | None
    rows: IntArray  # 0-based rows in the source file


@dataclass(frozen=True, slots=True)
class AlpacaEvalAnnotations:
    """Annotations grouped by model (``generator_2``); the baseline is ``generator_1``."""

    baseline: str
    annotator: str | None
    models: tuple[ModelAnnotations, ...]
    n_dropped_duplicates: int


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    return table.column(name)


def read_alpacaeval_annotations(
    path: str | Path,
    *,
    baseline: str | None = None,
    duplicates: str = "error",
) -> AlpacaEvalAnnotations:
    """Read AlpacaEval annotations (``annotations.json`` columns; JSON, JSONL, CSV or Parquet).

    Needs ``generator_1`` (the baseline), ``output_1``, ``generator_2`` (the model),
    ``output_2`` and ``preference``; uses ``instruction`` and ``instruction_index`` when present.
    Lengths are counted in characters (Unicode code points, as Python's ``len``).

    ``duplicates`` decides what happens when a model has the same instruction twice (e.g.
    two annotation files concatenated): ``"error"`` (default) raises, ``"drop"`` keeps the first
    of *identical* repeats (same output and preference) and still raises on conflicting ones,
    ``"keep"`` keeps every row.
    """
    if duplicates not in DUPLICATES:
        raise DataError(f"duplicates='{duplicates}' is not one of {', '.join(DUPLICATES)}")
    table = read_table(path)
    missing = [c for c in ALPACAEVAL_COLUMNS if c not in table.column_names]
    if missing:
        raise DataError(
            f"not an AlpacaEval annotation file: missing column(s) {', '.join(missing)}",
            path=str(path), field=missing[0],
            fix="AlpacaEval annotations have generator_1, output_1, generator_2, output_2 and "
                "preference (see results/<model>/<annotator>/annotations.json).")
    g1 = np.asarray(_column(table, "generator_1").to_pylist(), dtype=object)
    g2 = np.asarray(_column(table, "generator_2").to_pylist(), dtype=object)
    try:
        pref = np.asarray(pc.cast(_column(table, "preference"), pa.float64()).to_numpy(
            zero_copy_only=False), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"preference is not numeric: {exc}", path=str(path), field="preference",
                        fix="Preferences are numbers in [1, 2] (2 = the model wins).") from exc
    bad = ~(np.isnan(pref) | ((pref >= 1.0) & (pref <= 2.0)) | (pref == 0.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"preference {pref[i]!r} is outside [1, 2] ({int(bad.sum())} such rows)",
                        path=str(path), row=i, field="preference",
                        fix="AlpacaEval preferences are in [1, 2]: 1 = baseline wins, "
                            "2 = model wins, 1.5 = tie.")
    for name, arr in (("generator_1", g1), ("generator_2", g2)):
        nulls = np.flatnonzero([v is None for v in arr])
        if len(nulls):
            raise DataError("missing model name", path=str(path), row=int(nulls[0]), field=name,
                            fix="Every row needs generator_1 (baseline) and generator_2 (model).")
    base_names = sorted(set(g1.tolist()))
    if baseline is None:
        if len(base_names) > 1:
            raise DataError(f"several baselines in generator_1: {', '.join(base_names[:5])}",
                            path=str(path), field="generator_1",
                            fix="Pass --baseline NAME, or split the file by baseline.")
        baseline = base_names[0]
    other = np.flatnonzero(g1 != baseline)
    if len(other):
        i = int(other[0])
        raise DataError(
            f"generator_1 is '{g1[i]}', not the baseline '{baseline}' "
            f"({len(other)} such rows)", path=str(path), row=i, field="generator_1",
            fix="AlpacaEval files put the baseline in generator_1; pass the right --baseline or "
                "keep only the rows against one baseline.")
    annotator = None
    if "annotator" in table.column_names:
        names = sorted({a for a in _column(table, "annotator").to_pylist() if a is not None})
        if len(names) > 1:
            raise DataError(f"several annotators: {', '.join(names[:5])}", path=str(path),
                            field="annotator", fix="Score one annotator at a time.")
        annotator = names[0] if names else None
    out1, out2 = _column(table, "output_1"), _column(table, "output_2")
    for name, col in (("output_1", out1), ("output_2", out2)):
        if col.null_count:
            i = int(np.flatnonzero(pc.is_null(col).to_numpy(zero_copy_only=False))[0])
            raise DataError("missing output text", path=str(path), row=i, field=name,
                            fix="Every annotation needs both outputs (lengths enter the LC GLM).")
    len1 = np.asarray(pc.utf8_length(out1).to_numpy(zero_copy_only=False), dtype=np.int64)
    len2 = np.asarray(pc.utf8_length(out2).to_numpy(zero_copy_only=False), dtype=np.int64)
    iidx = None
    if "instruction_index" in table.column_names:
        iidx = np.asarray(_column(table, "instruction_index").to_numpy(zero_copy_only=False))
    key_col = "instruction" if "instruction" in table.column_names else None
    keys = _column(table, key_col).to_pylist() if key_col else None
    if keys is None and iidx is not None:
        keys = iidx.tolist()
    text2 = out2.to_pylist() if keys is not None and duplicates != "keep" else None
    models: list[ModelAnnotations] = []
    n_dropped = 0
    order = {m: k for k, m in enumerate(dict.fromkeys(g2.tolist()))}
    groups: list[list[int]] = [[] for _ in order]
    for i, m in enumerate(g2.tolist()):
        groups[order[m]].append(i)
    kept: list[tuple[str, IntArray]] = []
    for m, rows_list in zip(order, groups, strict=True):
        rows = np.asarray(rows_list, dtype=np.int64)
        if keys is not None and duplicates != "keep":
            rows, dropped = _dedup(rows, keys, text2, pref, m, path, duplicates)
            n_dropped += dropped
        kept.append((m, rows))
    canon = _canonical_index(kept, keys, iidx) if key_col is not None and keys else iidx
    for m, rows in kept:
        models.append(ModelAnnotations(
            model=m, preference=pref[rows], len_baseline=len1[rows], len_model=len2[rows],
            position=np.arange(len(rows), dtype=np.int64),
            instruction_index=None if canon is None else canon[rows].astype(np.int64),
            rows=rows))
    if n_dropped:
        logger.warning("dropped %d repeated annotations (same model, instruction, output and "
                       "preference)", n_dropped)
    return AlpacaEvalAnnotations(baseline, annotator, tuple(models), n_dropped)


def _canonical_index(kept: list[tuple[str, IntArray]], keys: list[object],
                     iidx: npt.NDArray[np.int64] | None) -> IntArray | None:
    """Each row's instruction index in AlpacaEval order.

    From the instruction text: the position of the instruction in the model with the most rows
    (a complete file is in AlpacaEval order). Rows whose text that model lacks fall back to the
    ``instruction_index`` column, or -1. Disagreements with the column are logged.
    """
    if not kept:
        return iidx
    longest = max(kept, key=lambda mr: len(mr[1]))[1]
    where = {keys[i]: k for k, i in enumerate(longest.tolist())}
    out = np.array([where.get(k, -1) for k in keys], dtype=np.int64)
    if iidx is not None:
        unknown = out < 0
        out[unknown] = np.asarray(iidx, dtype=np.int64)[unknown]
        n_bad = int((out != np.asarray(iidx)).sum())
        if n_bad:
            logger.warning("%d rows have an instruction_index that disagrees with the position "
                           "of their instruction text in the most complete model; using the "
                           "text", n_bad)
    return out


def _dedup(rows: IntArray, keys: list[object], text2: list[object] | None, pref: FloatArray,
           model: str, path: str | Path, duplicates: str) -> tuple[IntArray, int]:
    first: dict[object, int] = {}
    keep: list[int] = []
    for i in rows.tolist():
        k = keys[i]
        j = first.get(k)
        if j is None:
            first[k] = i
            keep.append(i)
            continue
        same = text2 is not None and text2[i] == text2[j] and (
            pref[i] == pref[j] or (np.isnan(pref[i]) and np.isnan(pref[j])))
        if duplicates == "drop" and same:
            continue
        what = "an identical repeat" if same else "a conflicting repeat"
        raise DataError(
            f"model '{model}' has the same instruction twice (first at row {j}; {what})",
            path=str(path), row=i, field="instruction",
            fix="Two annotation files were probably concatenated under one generator_2 name. "
                + ("Pass --duplicates drop to keep the first of identical repeats, or "
                   "--duplicates keep to count every row." if same else
                   "Rename one model in generator_2, or pass --duplicates keep."))
    return np.asarray(keep, dtype=np.int64), len(rows) - len(keep)


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

        def num(v: float) -> float | None:
            return None if v != v else float(v)

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


def read_gamed(path: str | Path) -> GamedRows:
    """Read AlpacaEval's ``df_gamed.csv`` (or the offline reconstruction in ``lc_inputs``)."""
    t = read_table(path)
    need = ("index", "preference", "std_delta_len", "instruction_difficulty")
    missing = [c for c in need if c not in t.column_names]
    if missing:
        raise DataError(f"not a gamed-baseline file: missing {', '.join(missing)}",
                        path=str(path), field=missing[0],
                        fix="Expected AlpacaEval's df_gamed.csv columns: model, index, "
                            "preference, std_delta_len, instruction_difficulty, "
                            "not_gamed_baseline.")
    if "not_gamed_baseline" in t.column_names:
        flags = t.column("not_gamed_baseline").to_pylist()
        bad = [i for i, v in enumerate(flags) if v not in (False, "False", "false", 0)]
        if bad:
            raise DataError("a row of the gamed file is marked not_gamed_baseline=True",
                            path=str(path), row=bad[0], field="not_gamed_baseline",
                            fix="The file holds only the gamed baselines' annotations.")
    cols = {c: np.asarray(pc.cast(t.column(c), pa.float64()).to_numpy(zero_copy_only=False))
            for c in need}
    pref = cols["preference"]
    if np.nanmax(pref) > 1.0 or np.nanmin(pref) < 0.0:
        raise DataError("gamed preferences must be in [0, 1] (preference - 1)", path=str(path),
                        field="preference", fix="Subtract 1 from AlpacaEval preferences.")
    return GamedRows(pref, cols["std_delta_len"], cols["instruction_difficulty"],
                     cols["index"].astype(np.int64))


def read_difficulty(path: str | Path) -> FloatArray:
    """Read ``instruction_difficulty.csv`` (``index, instruction_difficulty``) into a vector."""
    t = read_table(path)
    if t.num_columns < 2:
        raise DataError("expected columns index, instruction_difficulty", path=str(path),
                        fix="Write one row per instruction: index,instruction_difficulty.")
    idx_name = "index" if "index" in t.column_names else t.column_names[0]
    val_name = ("instruction_difficulty" if "instruction_difficulty" in t.column_names
                else t.column_names[1])
    idx = np.asarray(t.column(idx_name).to_numpy(zero_copy_only=False), dtype=np.int64)
    val = np.asarray(pc.cast(t.column(val_name), pa.float64()).to_numpy(zero_copy_only=False))
    if len(idx) and idx.min() < 0:
        raise DataError("negative instruction index", path=str(path), field=idx_name,
                        row=int(np.argmin(idx)), fix="Indices are 0-based positions.")
    out = np.full(int(idx.max()) + 1 if len(idx) else 0, np.nan)
    out[idx] = val
    return out


def _gamed_lookup(gamed: GamedRows, lookup: str) -> FloatArray:
    """AlpacaEval reads difficulty from the gamed file: a Series of first occurrences of each
    ``index``, labelled by their *row* in the file, looked up by the annotation's position."""
    _, first = np.unique(gamed.index, return_index=True)
    if lookup == "position":
        out = np.full(len(gamed.index), np.nan)
        out[first] = gamed.difficulty[first]
        return out
    by_index = np.full(int(gamed.index.max()) + 1, np.nan)
    by_index[gamed.index[first]] = gamed.difficulty[first]
    return by_index


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
