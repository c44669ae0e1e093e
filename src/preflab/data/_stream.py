"""Validation of *native* comparisons files by streaming them through DuckDB.

For files larger than memory: the row checks of :mod:`preflab.data._validate` as one SQL
aggregate over :func:`preflab.data.comparisons_relation`, so nothing is materialised. Pair it
with a streaming consumer, e.g. ``preflab.rank.pair_counts(path)``::

    check_comparisons_file("battles.parquet")      # raises DataError on the first bad row
    counts = pair_counts("battles.parquet")        # DuckDB GROUP BY over the same file
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from preflab._errors import DataError
from preflab.data._adapters_base import SKIP_HINT
from preflab.data._io import quiet_connection, scan_sql
from preflab.data._schema import WINNERS
from preflab.data._validate import WINNER_FIX


@dataclass(frozen=True, slots=True)
class FileCheck:
    """Result of :func:`check_comparisons_file`: rows read, invalid rows, invalid per field
    (each row counted once, under its first failing check)."""

    n_rows: int
    n_invalid: int
    invalid_by_field: dict[str, int]


def _blank(col: str) -> str:
    return f"({col} IS NULL OR trim({col}) = '')"


def _checks(columns: list[str]) -> list[tuple[str, str, str, str, str]]:
    """(field, SQL condition, SQL value, reason, fix) in the in-memory validator's order."""
    winners = ", ".join(f"'{w}'" for w in WINNERS)
    out = [
        ("model_a", _blank("model_a"), "model_a", "empty model name",
         f"Fill in the model name or drop the row, {SKIP_HINT}"),
        ("model_b", _blank("model_b"), "model_b", "empty model name",
         f"Fill in the model name or drop the row, {SKIP_HINT}"),
        ("model_b", "model_a = model_b", "model_b",
         "'{value}' is compared with itself (model_a == model_b)",
         f"A comparison needs two different models; fix the names or drop the row, {SKIP_HINT}"),
        ("winner", f"(winner IS NULL OR winner NOT IN ({winners}))", "winner",
         "'{value}' is not one of " + ", ".join(WINNERS) + ".", WINNER_FIX),
        ("prompt_id", _blank("prompt_id"), "prompt_id", "empty prompt id",
         "Fill in the prompt id, or drop the column to have ids generated as row:<n>, "
         + SKIP_HINT),
    ]
    if "prompt_id" not in columns:  # generated ids are never blank
        out = [c for c in out if c[0] != "prompt_id"]
    if "weight" in columns:
        out.append(("weight", "(weight IS NULL OR isnan(weight) OR isinf(weight) OR weight < 0)",
                    "weight", "weight '{value}' is not a finite number >= 0",
                    f"Use 1 for an ordinary vote (0 to ignore it), {SKIP_HINT}"))
    return out


def check_comparisons_file(path: str | Path, *, strict: bool = True,
                           connection: Any = None) -> FileCheck:
    """Check every row of a native comparisons file without loading it (DuckDB streams it).

    Same checks and messages as :func:`preflab.data.read_comparisons` for the native format
    (empty names, self-comparisons, unknown winners, empty prompt ids, NaN/negative/missing
    weights; ``tie (bothbad)`` accepted). With ``strict`` the first invalid row (0-based, in
    file order) raises :class:`~preflab._errors.DataError`; a second pass finds it, only then.
    Uniqueness of id columns is not checked here (that needs the ids in memory).
    """
    con = connection if connection is not None else quiet_connection()
    source = scan_sql(path, csv_as_text=True)
    columns = [d[0] for d in con.sql(f"SELECT * FROM {source} LIMIT 0").description]
    for c in ("model_a", "model_b", "winner"):
        if c not in columns:
            raise DataError(
                f"missing column '{c}' (the file has {', '.join(columns)})", path=str(path),
                field=c, fix="Convert it first: preflab convert FILE --from FORMAT -o out.parquet.")
    select = ["CAST(model_a AS VARCHAR) AS model_a", "CAST(model_b AS VARCHAR) AS model_b",
              "CASE WHEN winner = 'tie (bothbad)' THEN 'tie_bothbad' "
              "ELSE CAST(winner AS VARCHAR) END AS winner"]
    if "prompt_id" in columns:
        select.append("CAST(prompt_id AS VARCHAR) AS prompt_id")
    if "weight" in columns:
        select.append("TRY_CAST(weight AS DOUBLE) AS weight")
    rel = con.sql(f"SELECT {', '.join(select)} FROM {source}")
    checks = _checks(columns)
    first_fail = "CASE " + " ".join(f"WHEN {cond} THEN {k}" for k, (_, cond, *_r) in
                                    enumerate(checks)) + " ELSE -1 END"
    con.register("_rel", rel)
    rows = con.sql(f"SELECT {first_fail} AS k, count(*) FROM _rel GROUP BY 1").fetchall()
    n_rows = sum(int(n) for _, n in rows)
    by_field: dict[str, int] = {}
    for k, n in rows:
        if k >= 0:
            field = checks[k][0]
            by_field[field] = by_field.get(field, 0) + int(n)
    n_invalid = sum(by_field.values())
    if strict and n_invalid:
        first = con.sql(
            f"SELECT r, k, v FROM (SELECT row_number() OVER () - 1 AS r, {first_fail} AS k, "
            f"CASE {' '.join(f'WHEN {c[1]} THEN CAST({c[2]} AS VARCHAR)' for c in checks)} END "
            "AS v FROM _rel) WHERE k >= 0 ORDER BY r LIMIT 1").fetchall()[0]
        field, _, _, reason, fix = checks[int(first[1])]
        value = first[2]
        if field == "weight" and value is not None:  # spelled as the in-memory check does
            value = pa.array([float(value)]).cast(pa.string())[0].as_py()
        raise DataError(reason.format(value=value), path=str(path), row=int(first[0]),
                        field=field, fix=fix)
    return FileCheck(n_rows, n_invalid, by_field)
