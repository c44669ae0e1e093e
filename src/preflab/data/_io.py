"""Reading and writing tables: Parquet, CSV, JSON (array or records) and JSONL.

Reads go through pyarrow (Parquet, CSV, JSONL) or DuckDB (JSON arrays), so files larger than
memory can also be queried lazily with :func:`duckdb_source` without materialising them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from preflab._errors import DataError

FORMATS = ("parquet", "csv", "jsonl", "json")


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
            delim = "\t" if str(p).lower().rstrip(".gz").endswith(".tsv") else ","
            table = pacsv.read_csv(
                p,
                parse_options=pacsv.ParseOptions(delimiter=delim, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
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
    try:
        return pa.Table.from_pylist(rows)  # type: ignore[arg-type]
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Heterogeneous values: keep everything as text rather than dropping anything.
        keys: dict[str, None] = {}
        for r in rows:
            keys.update(dict.fromkeys(r))  # type: ignore[call-overload]
        cols = {
            k: [None if r.get(k) is None else (r[k] if isinstance(r[k], str) else json.dumps(r[k]))  # type: ignore[attr-defined]
                for r in rows]
            for k in keys
        }
        return pa.table(cols)


def _open_text(p: Path):  # type: ignore[no-untyped-def]
    if str(p).lower().endswith(".gz"):
        import gzip

        return gzip.open(p, "rt", encoding="utf-8")
    return open(p, encoding="utf-8")


def write_table(table: pa.Table, path: str | Path) -> None:
    """Write ``table`` as Parquet, CSV, JSON (array of records) or JSONL, by suffix."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fmt = file_format(p)
    if fmt == "parquet":
        pq.write_table(table, p)
    elif fmt == "csv":
        pacsv.write_csv(table, p)
    else:
        rows = table.to_pylist()
        with open(p, "w", encoding="utf-8") as fh:
            if fmt == "json":
                json.dump(rows, fh, ensure_ascii=False, default=str)
            else:
                for r in rows:
                    fh.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
