"""Reading and writing tables: Parquet, CSV, JSON (array or records) and JSONL.

Whole-table reads go through pyarrow. Files larger than memory are read lazily through DuckDB:
:func:`scan_sql` gives the SQL table expression for any supported file and
:func:`comparisons_relation` a DuckDB relation over a native comparisons file, so that counts
(e.g. per ``(model_a, model_b, winner)``) can be aggregated by streaming, without materialising
the rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from preflab._errors import DataError
from preflab.data._schema import COMPARISON_FIELDS, COMPARISONS_REQUIRED, style_columns

FORMATS = ("parquet", "csv", "jsonl", "json")

TEXT_COLUMNS: tuple[str, ...] = (
    "prompt_id", "question_id", "pair_id", "battle_id", "comparison_id", "id", "model_a",
    "model_b", "model", "winner", "judge", "label", "generator_1", "generator_2",
    "instruction", "prompt", "chosen", "rejected",
)
"""Columns a CSV reader keeps as text (ids like ``007`` must not become the number 7)."""


def file_format(path: str | Path) -> str:
    """The storage format of ``path`` from its suffix (``.gz`` allowed for text formats)."""
    name = str(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix, fmt in ((".parquet", "parquet"), (".pq", "parquet"), (".csv", "csv"),
                        (".tsv", "csv"), (".jsonl", "jsonl"), (".ndjson", "jsonl"),
                        (".json", "json")):
        if name.endswith(suffix):
            return fmt
    raise DataError(
        f"cannot tell the format from the file name (expected one of {', '.join(FORMATS)})",
        path=str(path),
        fix="Rename the file with a .parquet, .csv, .tsv, .json or .jsonl suffix.",
    )


def read_table(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """Read a whole table from Parquet, CSV/TSV, JSON or JSONL into Arrow.

    Raises :class:`DataError` naming the file when it is missing or unreadable.
    """
    p = Path(path)
    if not p.exists():
        raise DataError("file not found", path=str(path), fix="Check the path.")
    fmt = file_format(p)
    try:
        if fmt == "parquet":
            return pq.read_table(p, columns=columns)
        if fmt == "csv":
            delim = "\t" if str(p).lower().removesuffix(".gz").endswith(".tsv") else ","
            table = pacsv.read_csv(
                p,
                parse_options=pacsv.ParseOptions(delimiter=delim, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    strings_can_be_null=True,
                    column_types={c: pa.string() for c in TEXT_COLUMNS}),
            )
        elif fmt == "jsonl":
            table = _read_jsonl(p)
        else:
            table = _read_json(p)
    except DataError:
        raise
    except (pa.ArrowInvalid, json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise DataError(
            f"cannot read as {fmt}: {exc}", path=str(path),
            fix=f"Check that the file is valid {fmt}.",
        ) from exc
    return table.select(columns) if columns else table


def _read_jsonl(p: Path) -> pa.Table:
    try:
        return pajson.read_json(p, read_options=pajson.ReadOptions(block_size=1 << 24))
    except pa.ArrowInvalid:
        # Mixed types across lines (e.g. a field that is sometimes a number, sometimes text):
        # fall back to Python parsing, which names the bad line.
        rows = []
        opener = _open_text(p)
        with opener as fh:
            for i, line in enumerate(fh):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"invalid JSON: {exc.msg}", path=str(p), row=i,
                                    fix="Fix or remove that line.") from exc
        return _records_to_table(rows)


def _read_json(p: Path) -> pa.Table:
    """A JSON array of records through DuckDB (streamed parse, typed nested columns); anything
    else (column-oriented objects, mixed types DuckDB refuses) through Python's json."""
    import duckdb

    con = quiet_connection()
    try:
        head = _first_char(p)
        if head == "[":
            rel = con.sql(f"SELECT * FROM read_json({_sql_string(str(p))}, format='array', "
                          "maximum_object_size=1073741824, sample_size=-1)")
            return arrow_table(rel)
    except duckdb.Error:
        pass
    finally:
        con.close()
    with _open_text(p) as fh:
        data = json.load(fh)
    if isinstance(data, dict):
        # column-oriented {"col": [..]} or {"col": {"0": ..}} (pandas to_json default)
        cols = {k: (list(v.values()) if isinstance(v, dict) else v) for k, v in data.items()}
        return pa.table(cols)
    if not isinstance(data, list):
        raise DataError("expected a JSON array of records", path=str(p),
                        fix="Write one object per record, or use JSONL.")
    return _records_to_table(data)


def _records_to_table(rows: list[object]) -> pa.Table:
    records: list[dict[str, object]] = []
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise DataError(f"expected a JSON object, got {type(r).__name__}", row=i,
                            fix="Write one object per record.")
        records.append(r)
    try:
        return pa.Table.from_pylist(records)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Heterogeneous values: keep everything as text rather than dropping anything.
        keys: dict[str, None] = {}
        for r in records:
            keys.update(dict.fromkeys(r))
        cols = {
            k: [None if r.get(k) is None else (v if isinstance(v := r[k], str) else json.dumps(v))
                for r in records]
            for k in keys
        }
        return pa.table(cols)


def _first_char(p: Path) -> str:
    with _open_text(p) as fh:
        while True:
            c = fh.read(1)
            if not c or not c.isspace():
                return str(c)


def _open_text(p: Path, mode: str = "r"):  # type: ignore[no-untyped-def]
    if str(p).lower().endswith(".gz"):
        import gzip

        return gzip.open(p, mode + "t", encoding="utf-8")
    return open(p, mode, encoding="utf-8")


def write_table(table: pa.Table, path: str | Path) -> None:
    """Write ``table`` as Parquet, CSV/TSV, JSON (array of records) or JSONL, by suffix.

    ``.gz`` compresses the text formats. JSON and JSONL go through DuckDB's ``COPY`` (fast,
    bounded memory), falling back to Python's json batch by batch.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fmt = file_format(p)
    name = str(p).lower()
    gz = name.endswith(".gz")
    if fmt == "parquet":
        pq.write_table(table, p)
    elif fmt == "csv":
        tsv = name.removesuffix(".gz").endswith(".tsv")
        options = pacsv.WriteOptions(delimiter="\t" if tsv else ",")
        if gz:
            with pa.CompressedOutputStream(str(p), "gzip") as out:
                pacsv.write_csv(table, out, options)
        else:
            pacsv.write_csv(table, p, options)
    else:
        _write_json(table, p, array=fmt == "json", gz=gz)


def _write_json(table: pa.Table, p: Path, *, array: bool, gz: bool) -> None:
    import duckdb

    con = quiet_connection()
    try:
        con.register("_out", table)
        con.execute(f"COPY _out TO {_sql_string(str(p))} (FORMAT JSON, "
                    f"ARRAY {'true' if array else 'false'}"
                    f"{', COMPRESSION gzip' if gz else ''})")
        return
    except duckdb.Error:
        pass
    finally:
        con.close()
    _write_json_python(table, p, array=array)


def _write_json_python(table: pa.Table, p: Path, *, array: bool) -> None:
    """Batch-by-batch JSON(L) writer (memory bounded by one batch)."""
    opener = _open_text(p, "w")
    with opener as fh:
        first = True
        if array:
            fh.write("[")
        for batch in table.to_batches(max_chunksize=1 << 16):
            for r in batch.to_pylist():
                text = json.dumps(r, ensure_ascii=False, default=str)
                if array:
                    fh.write(("" if first else ",\n") + text)
                else:
                    fh.write(text + "\n")
                first = False
        if array:
            fh.write("]")


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def scan_sql(path: str | Path, *, csv_as_text: bool = False) -> str:
    """DuckDB table expression that streams ``path`` (Parquet, CSV/TSV, JSON or JSONL).

    Use it in any DuckDB query, e.g.
    ``duckdb.sql(f"SELECT model_a, count(*) FROM {scan_sql(p)} GROUP BY 1")``; DuckDB reads the
    file in chunks, so the file may be larger than memory. ``csv_as_text`` reads every CSV
    column as text (cast what you need), so ids like ``007`` keep their zeros.
    """
    p = Path(path)
    if not p.exists():
        raise DataError("file not found", path=str(path), fix="Check the path.")
    fmt = file_format(p)
    quoted = _sql_string(str(p))
    if fmt == "parquet":
        return f"read_parquet({quoted})"
    if fmt == "csv":
        delim = "\\t" if str(p).lower().removesuffix(".gz").endswith(".tsv") else ","
        text = ", all_varchar=true" if csv_as_text else ""
        return f"read_csv({quoted}, delim='{delim}', header=true{text})"
    if fmt == "jsonl":
        return f"read_json({quoted}, format='newline_delimited')"
    return f"read_json({quoted}, format='array')"


def comparisons_relation(path: str | Path, connection: Any = None) -> Any:
    """A lazy DuckDB relation over a *native* comparisons file (any size that fits on disk).

    The relation has the schema columns present in the file (``prompt_id`` may be absent and is
    then generated as ``row:<n>``), with ``winner``'s Chatbot Arena spelling ``tie (bothbad)``
    mapped to ``tie_bothbad``. Nothing is read until the relation is executed, so aggregating
    counts, e.g. ``rel.aggregate("model_a, model_b, winner, count(*) AS n")``, streams the file.

    This path does **not** run adapters or row validation (use :func:`preflab.data.read_comparisons`
    or ``preflab validate`` for that); it checks only that the required columns exist.

    Parameters
    ----------
    path:
        A Parquet, CSV/TSV, JSON or JSONL file with at least ``model_a, model_b, winner``.
    connection:
        A ``duckdb.DuckDBPyConnection``; a new in-memory one when ``None``.
    """

    con = connection if connection is not None else quiet_connection()
    source = scan_sql(path, csv_as_text=True)
    columns = [d[0] for d in con.sql(f"SELECT * FROM {source} LIMIT 0").description]
    missing = [c for c in COMPARISONS_REQUIRED if c not in columns and c != "prompt_id"]
    if missing:
        raise DataError(
            f"missing column '{missing[0]}' (the file has {', '.join(columns)})",
            path=str(path), field=missing[0],
            fix="Convert it first: preflab convert FILE --from FORMAT -o comparisons.parquet.",
        )
    known = {f.name: f for f in COMPARISON_FIELDS}
    select = []
    for name, field in known.items():
        if name == "prompt_id" and name not in columns:
            select.append("'row:' || CAST(row_number() OVER () - 1 AS VARCHAR) AS prompt_id")
        elif name == "winner":
            select.append("CASE WHEN winner = 'tie (bothbad)' THEN 'tie_bothbad' "
                          "ELSE CAST(winner AS VARCHAR) END AS winner")
        elif name in columns:
            sql_type = {"string": "VARCHAR", "double": "DOUBLE", "int64": "BIGINT"}[str(field.type)]
            select.append(f'CAST("{name}" AS {sql_type}) AS "{name}"')
    select += [f'CAST("{c}" AS DOUBLE) AS "{c}"' for c in style_columns(columns)]
    return con.sql(f"SELECT {', '.join(select)} FROM {source}")


def arrow_table(relation: Any) -> pa.Table:
    """A DuckDB relation's result as a ``pyarrow.Table`` (DuckDB 1.x and 2.x spellings)."""
    method = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    table: pa.Table = method()
    return table


def quiet_connection() -> Any:
    """A new in-memory DuckDB connection that never draws a progress bar (library code is
    silent; DuckDB otherwise prints one for queries over ~2 s)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con
