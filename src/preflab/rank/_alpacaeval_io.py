"""Readers for AlpacaEval's files: annotations (any table format), the gamed-baseline
annotations (``df_gamed.csv``) and the instruction difficulty (``instruction_difficulty.csv``).

Lengths are counted in characters (Unicode code points, as Python's ``len`` and pandas'
``str.len``, which AlpacaEval uses). Every bad row is reported with file, row, field and fix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from preflab._errors import DataError
from preflab.data._io import read_table
from preflab.rank._length_controlled import GamedRows

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

logger = logging.getLogger(__name__)

ALPACAEVAL_COLUMNS = ("generator_1", "output_1", "generator_2", "output_2", "preference")
DUPLICATES = ("error", "drop", "keep")


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
