"""Sufficient statistics of pairwise comparisons: weighted counts per (model_a, model_b, outcome).

Every rating method here is fitted on these counts, never on one row per battle
(DESIGN.md, "Statistics"). Counting runs in DuckDB, which streams Parquet/CSV/JSONL files and
Arrow tables alike, so the number of rows only costs time, not memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from preflab._errors import DataError, ModelError
from preflab.data._io import quiet_connection
from preflab.rank._ratings import FloatArray, IntArray

TIES = ("half", "drop", "davidson")


@dataclass(frozen=True, slots=True)
class PairCounts:
    """Weighted counts of outcomes per ordered pair of models.

    Attributes
    ----------
    models : model names; indices in ``matchups`` refer to this tuple.
    matchups : shape (k, 2), (first, second) model indices.
    outcomes : shape (k,), 1.0 if first won, 0.0 if second won, 0.5 for a tie.
    weights : shape (k,), summed weights (number of battles when unweighted).
    rows : shape (k,), number of input rows in each cell. Cells are split by ``weight``
        value, so every row of a cell has weight ``weights / rows``; the bootstrap resamples
        rows exactly by drawing cell row counts.
    n_rows : number of input rows (before ties were dropped, if they were).
    """

    models: tuple[str, ...]
    matchups: IntArray
    outcomes: FloatArray
    weights: FloatArray
    rows: FloatArray
    n_rows: int

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def is_tie(self) -> npt.NDArray[np.bool_]:
        mask: npt.NDArray[np.bool_] = self.outcomes == 0.5
        return mask

    def drop_ties(self) -> PairCounts:
        keep = ~self.is_tie
        return PairCounts(self.models, self.matchups[keep], self.outcomes[keep],
                          self.weights[keep], self.rows[keep], self.n_rows)

    def reweighted(self, rows: FloatArray) -> PairCounts:
        """The same cells with new row counts (a bootstrap replicate)."""
        unit = np.divide(self.weights, self.rows, out=np.ones_like(self.weights),
                         where=self.rows > 0)
        return PairCounts(self.models, self.matchups, self.outcomes, unit * rows,
                          np.asarray(rows, dtype=np.float64), int(np.sum(rows)))

    def collapsed(self) -> PairCounts:
        """Equivalent counts with one cell per (unordered pair, outcome, row weight).

        Sides are put in a canonical order (first index smaller, outcome flipped with them)
        and the two kinds of tie merged. Merging categories of a multinomial keeps its law,
        so a multinomial draw over these cells is still exactly a row bootstrap, with fewer
        cells to draw.
        """
        a, b = self.matchups[:, 0], self.matchups[:, 1]
        swap = a > b
        lo, hi = np.where(swap, b, a), np.where(swap, a, b)
        out = np.where(swap, 1.0 - self.outcomes, self.outcomes)
        unit = np.divide(self.weights, self.rows, out=np.ones_like(self.weights),
                         where=self.rows > 0)
        m = self.n_models
        code = (out * 2).astype(np.int64)  # 0, 1 (tie), 2
        uniq_unit, unit_idx = np.unique(unit, return_inverse=True)
        key = ((lo * m + hi) * 3 + code) * len(uniq_unit) + unit_idx.reshape(-1)
        keys, inv = np.unique(key, return_inverse=True)
        inv = inv.reshape(-1)
        rows: FloatArray = np.bincount(inv, self.rows, len(keys)).astype(np.float64)
        weights: FloatArray = np.bincount(inv, self.weights, len(keys)).astype(np.float64)
        k_unit = keys % len(uniq_unit)
        rest = keys // len(uniq_unit)
        pair, k_code = rest // 3, rest % 3
        matchups = np.stack([pair // m, pair % m], axis=1)
        del k_unit
        return PairCounts(self.models, matchups, k_code / 2.0, weights, rows, self.n_rows)

    def per_model(self) -> tuple[FloatArray, FloatArray]:
        """(comparisons per model, win rate per model with ties as half), weighted."""
        m = self.n_models
        a, b = self.matchups[:, 0], self.matchups[:, 1]
        n: FloatArray = (np.bincount(a, self.weights, m)
                         + np.bincount(b, self.weights, m)).astype(np.float64)
        wins = (np.bincount(a, self.weights * self.outcomes, m)
                + np.bincount(b, self.weights * (1 - self.outcomes), m))
        with np.errstate(invalid="ignore", divide="ignore"):
            rate: FloatArray = np.where(n > 0, wins / np.where(n > 0, n, 1), np.nan)
        return n, rate

    def battle_matrix(self) -> FloatArray:
        """Symmetric matrix of (weighted) comparison counts between models."""
        m = self.n_models
        mat: FloatArray = np.zeros((m, m))
        np.add.at(mat, (self.matchups[:, 0], self.matchups[:, 1]), self.weights)
        out: FloatArray = mat + mat.T
        return out

    def win_matrix(self) -> FloatArray:
        """``W[i, j]``: (weighted) wins of i over j, ties counting half."""
        m = self.n_models
        mat = np.zeros((m, m))
        a, b = self.matchups[:, 0], self.matchups[:, 1]
        np.add.at(mat, (a, b), self.weights * self.outcomes)
        np.add.at(mat, (b, a), self.weights * (1 - self.outcomes))
        return mat

    def subset(self, models: list[str] | tuple[str, ...]) -> PairCounts:
        """Counts restricted to comparisons among ``models`` (re-indexed)."""
        keep_idx = np.array([self.models.index(m) for m in models], dtype=np.int64)
        remap = np.full(self.n_models, -1, dtype=np.int64)
        remap[keep_idx] = np.arange(len(keep_idx))
        mu = remap[self.matchups]
        ok = (mu >= 0).all(axis=1)
        return PairCounts(tuple(models), mu[ok], self.outcomes[ok], self.weights[ok],
                          self.rows[ok], int(self.rows[ok].sum()))


_WINNER_TO_OUTCOME = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie_bothbad": 0.5,
                      "tie (bothbad)": 0.5}


def _check_ties(ties: str) -> None:
    if ties not in TIES:
        raise ModelError(f"unknown ties option '{ties}'; use one of {', '.join(TIES)}")


def pair_counts(
    source: pa.Table | str | Path,
    *,
    ties: str = "half",
    where: str | None = None,
) -> PairCounts:
    """Count comparisons per (model_a, model_b, outcome), summing ``weight`` when present.

    Parameters
    ----------
    source : a comparisons table (Arrow) or the path of a native comparisons file
        (Parquet/CSV/JSONL; streamed, never loaded whole).
    ties : ``"half"`` and ``"davidson"`` keep ties (outcome 0.5); ``"drop"`` removes them.
        Both ``tie`` and ``tie_bothbad`` count as ties, as in Chatbot Arena.
    where : optional SQL filter (e.g. ``"category = 'coding'"``).

    Rows with ``weight`` null count 1. Every row-level check that does not need row numbers
    (winner labels, empty names, a model against itself, NaN/negative weights) runs on the
    grouped counts and raises :class:`DataError`; the readers give row-by-row detail.
    """
    _check_ties(ties)
    if isinstance(source, pa.Table) and where is None:
        res = _group_arrow(source)
    else:
        res = _group_duckdb(source, where)
    return _from_grouped(res, ties)


def _group_arrow(table: pa.Table) -> pa.Table:
    """Group an in-memory table with pyarrow (no database start-up for small tables)."""
    n = table.num_rows
    if "weight" in table.column_names:
        unit = pc.fill_null(table.column("weight").cast(pa.float64()), 1.0)
    else:
        unit = pa.array(np.ones(n))
    t = pa.table({"model_a": table.column("model_a").cast(pa.string()),
                  "model_b": table.column("model_b").cast(pa.string()),
                  "winner": table.column("winner").cast(pa.string()),
                  "unit": unit, "one": pa.array(np.ones(n, dtype=np.int64))})
    g = t.group_by(["model_a", "model_b", "winner", "unit"], use_threads=False).aggregate(
        [("unit", "sum"), ("one", "sum")])
    g = g.rename_columns([{"unit_sum": "w", "one_sum": "n"}.get(c, c) for c in g.column_names])
    return g.sort_by([("model_a", "ascending"), ("model_b", "ascending"),
                      ("winner", "ascending"), ("unit", "ascending")])


def _group_duckdb(source: pa.Table | str | Path, where: str | None,
                  con: Any = None) -> dict[str, np.ndarray]:
    """Group a file (streamed) or a table with a SQL filter in DuckDB (on ``con`` when given;
    the caller then closes it)."""
    own = con is None
    con = quiet_connection() if own else con
    try:
        if isinstance(source, pa.Table):
            con.register("battles", source)
            cols = source.column_names
            rel = "battles"
        else:
            from preflab.data import scan_sql

            rel = scan_sql(source)
            cols = [d[0] for d in con.sql(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
        weight = "COALESCE(CAST(weight AS DOUBLE), 1.0)" if "weight" in cols else "1.0"
        filt = f"WHERE {where}" if where else ""
        q = (f"SELECT model_a, model_b, winner, {weight} AS unit, SUM({weight}) AS w, "
             f"COUNT(*) AS n FROM {rel} {filt} GROUP BY ALL ORDER BY ALL")
        # NumPy, not Arrow: converting Arrow columns makes pyarrow import pandas (0.1 s)
        res: dict[str, np.ndarray] = con.sql(q).fetchnumpy()
        return res
    finally:
        if own:
            con.close()


def _check_groups(a: list[object], b: list[object], winner: list[object], unit: np.ndarray,
                  rows: np.ndarray) -> None:
    """Row-level validity checks, done on the groups (every check is a function of the keys)."""
    problems = []
    bad_label = sorted({str(x) for x in winner if x not in _WINNER_TO_OUTCOME})
    if bad_label:
        problems.append(f"winner labels {bad_label[:5]} are not one of model_a, model_b, tie, "
                        "tie_bothbad")
    n_empty = sum(r for x, y, r in zip(a, b, rows)
                  if x is None or y is None or not str(x).strip() or not str(y).strip())
    if n_empty:
        problems.append(f"{int(n_empty)} rows have an empty model name")
    n_self = sum(r for x, y, r in zip(a, b, rows) if x is not None and x == y)
    if n_self:
        problems.append(f"{int(n_self)} rows compare a model with itself")
    n_bad_w = int(rows[~(unit >= 0)].sum())
    if n_bad_w:
        problems.append(f"{n_bad_w} rows have a NaN or negative weight")
    if problems:
        raise DataError("invalid comparisons: " + "; ".join(problems),
                        fix="Run `preflab validate FILE` for the rows and fields, or read it "
                            "with --skip-invalid REJECTS.")


def _from_grouped(res: pa.Table | dict[str, np.ndarray], ties: str) -> PairCounts:
    """Counts from grouped rows (columns model_a, model_b, winner, unit, w, n), given as an
    Arrow table or as DuckDB's ``fetchnumpy`` dict (masked arrays where a key is NULL)."""
    if isinstance(res, pa.Table):
        res = {c: res.column(c).to_numpy(zero_copy_only=False) if c in ("unit", "w", "n")
               else np.asarray(res.column(c).to_pylist(), dtype=object)
               for c in ("model_a", "model_b", "winner", "unit", "w", "n")}
    # masked (NULL) keys become None in tolist()
    a = np.asarray(res["model_a"].tolist(), dtype=object)
    b = np.asarray(res["model_b"].tolist(), dtype=object)
    winner = res["winner"].tolist()
    w = np.asarray(res["w"], dtype=np.float64)
    rows = np.asarray(res["n"], dtype=np.float64)
    _check_groups(a.tolist(), b.tolist(), winner, np.asarray(res["unit"], dtype=np.float64),
                  rows)
    n_rows = int(rows.sum())
    models = tuple(sorted(set(a.tolist()) | set(b.tolist())))
    index = {m: i for i, m in enumerate(models)}
    ia = np.fromiter((index[x] for x in a), dtype=np.int64, count=len(a))
    ib = np.fromiter((index[x] for x in b), dtype=np.int64, count=len(b))
    out = np.fromiter((_WINNER_TO_OUTCOME[x] for x in winner), dtype=np.float64,
                      count=len(winner))
    counts = PairCounts(models, np.stack([ia, ib], axis=1).reshape(-1, 2), out, w, rows, n_rows)
    return counts.drop_ties() if ties == "drop" else counts


def native_counts(path: str | Path, *, ties: str = "half") -> PairCounts | None:
    """Counts streamed straight from a *native* comparisons file, or ``None`` if it is not one.

    The fast path for large files: one DuckDB pass, no table in memory. Other formats (and
    files that need an adapter) return ``None``; use :func:`preflab.data.read_input` then.
    """
    from preflab.data import detect_format, scan_sql

    _check_ties(ties)
    con = quiet_connection()
    try:
        cols = [d[0] for d in con.sql(f"DESCRIBE SELECT * FROM {scan_sql(path)}").fetchall()]
        if detect_format(cols, path=str(path)) != "native":
            return None
        return _from_grouped(_group_duckdb(path, None, con), ties)
    finally:
        con.close()


def counts_from_arrays(
    model_a: list[str] | np.ndarray,
    model_b: list[str] | np.ndarray,
    winner: list[str] | np.ndarray,
    weight: np.ndarray | None = None,
    *,
    ties: str = "half",
) -> PairCounts:
    """Counts from plain arrays (convenience for tests and small data)."""
    cols: dict[str, object] = {"model_a": list(model_a), "model_b": list(model_b),
                               "winner": list(winner)}
    if weight is not None:
        cols["weight"] = np.asarray(weight, dtype=np.float64)
    return pair_counts(pa.table(cols), ties=ties)
