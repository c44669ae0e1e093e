"""Aggregation engines: comparisons files of any size into the sufficient statistics.

Bradley–Terry (and its bootstrap and sandwich intervals) needs only the weighted count per
``(model_a, model_b, winner, weight)`` cell, a table of at most ``3·m²`` rows for ``m``
models. The engines compute that table where the data lives and hand it back:

- ``engine="duckdb"`` streams Parquet / CSV / JSONL (a path, a glob such as
  ``battles/*.parquet``, or a list of paths) through one ``GROUP BY``; memory is bounded by the
  hash table of the groups, not by the number of rows (``memory_limit``, ``threads``);
- ``engine="spark"`` runs the same aggregation as a PySpark job (``master="local[2]"`` by
  default; pass ``master="spark://host:7077"``, ``"yarn"`` or ``"k8s://..."`` for a cluster,
  see ``docs/spark.md``) and collects only the small grouped table.

Both return the same :class:`preflab.rank.PairCounts` (built by the same code from the grouped
table), so the ratings fitted from them are identical.
"""

from __future__ import annotations

import glob as _glob
import logging
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from preflab._errors import DataError, ModelError
from preflab.rank._counts import TIES, PairCounts, _from_grouped

log = logging.getLogger(__name__)

__all__ = ["ENGINES", "stream_counts"]

ENGINES = ("duckdb", "spark")
_WINNERS = ("model_a", "model_b", "tie", "tie_bothbad", "tie (bothbad)")


def _paths(source: str | Path | list[str] | list[Path]) -> list[str]:
    items = [source] if isinstance(source, (str, Path)) else list(source)
    out: list[str] = []
    for item in items:
        s = str(item)
        hits = sorted(_glob.glob(s)) if any(c in s for c in "*?[") else [s]
        if not hits or not all(Path(h).exists() for h in hits):
            raise DataError("file not found", path=s, fix="Check the path or glob.")
        out += hits
    kinds = {_kind(p) for p in out}
    if len(kinds) != 1:
        raise DataError(f"mixed file formats {sorted(kinds)}", path=out[0],
                        fix="Aggregate one format at a time.")
    return out


def _kind(path: str) -> str:
    low = path.lower().removesuffix(".gz")
    if low.endswith((".parquet", ".pq")):
        return "parquet"
    if low.endswith((".csv", ".tsv")):
        return "csv"
    if low.endswith((".jsonl", ".ndjson", ".json")):
        return "json"
    raise DataError("cannot tell the format from the file name", path=path,
                    fix="Use a .parquet, .csv, .tsv or .jsonl suffix.")


def _query(relation: str, columns: list[str], where: str | None) -> str:
    missing = [c for c in ("model_a", "model_b", "winner") if c not in columns]
    if missing:
        raise DataError(f"missing columns {missing}", field=missing[0],
                        fix="Convert the file with `preflab convert` first.")
    weight = "COALESCE(CAST(weight AS DOUBLE), 1.0)" if "weight" in columns else "1.0"
    filt = f"WHERE {where}" if where else ""
    return (f"SELECT model_a, model_b, winner, {weight} AS unit, SUM({weight}) AS w, "
            f"COUNT(*) AS n FROM {relation} {filt} GROUP BY 1, 2, 3, 4")


def _check_grouped(res: pa.Table, where: str) -> None:
    """Name the bad values before fitting (the grouped table is small)."""
    winners = set(res.column("winner").to_pylist())
    bad = sorted(str(w) for w in winners - set(_WINNERS))
    if bad:
        raise DataError(f"winner value(s) {bad[:5]} are not model_a, model_b, tie, tie_bothbad",
                        path=where, field="winner",
                        fix="Validate the file with `preflab validate` (it names the rows).")
    a, b = res.column("model_a").to_pylist(), res.column("model_b").to_pylist()
    for x, y in zip(a, b, strict=True):
        if x is None or y is None or x == "" or y == "":
            raise DataError("empty model name", path=where, field="model_a",
                            fix="Validate the file with `preflab validate` (it names the rows).")
        if x == y:
            raise DataError(f"model '{x}' is compared with itself", path=where,
                            field="model_b", fix="Remove self-comparisons.")


def _duckdb(paths: list[str], where: str | None, memory_limit: str | None,
            threads: int | None) -> pa.Table:
    con = duckdb.connect()
    try:
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")  # library code never prints
        lst = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
        kind = _kind(paths[0])
        relation = {"parquet": f"read_parquet({lst})", "csv": f"read_csv_auto({lst})",
                    "json": f"read_json_auto({lst})"}[kind]
        cols = [d[0] for d in con.sql(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        res = con.sql(_query(relation, cols, where)).arrow()
        table: pa.Table = res.read_all() if hasattr(res, "read_all") else res
        return table
    finally:
        con.close()


def spark_session(master: str = "local[2]", **conf: str) -> Any:
    """A SparkSession (imported lazily; ``pip install 'preflab[spark]'`` and Java 17)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelError("engine='spark' needs PySpark: pip install 'preflab[spark]' "
                         "(and a Java 17 runtime)") from exc
    builder = SparkSession.builder.master(master).appName("preflab-counts")
    builder = builder.config("spark.ui.enabled", "false")
    builder = builder.config("spark.sql.shuffle.partitions", "8")
    for k, v in conf.items():
        builder = builder.config(k, v)
    return builder.getOrCreate()


def _spark(paths: list[str], where: str | None, spark: Any, master: str) -> pa.Table:
    session = spark if spark is not None else spark_session(master)
    kind = _kind(paths[0])
    reader = session.read
    if kind == "parquet":
        df = reader.parquet(*paths)
    elif kind == "csv":
        sep = "\t" if paths[0].lower().removesuffix(".gz").endswith(".tsv") else ","
        df = reader.option("header", True).option("sep", sep).csv(paths)
    else:
        df = reader.json(paths)
    df.createOrReplaceTempView("preflab_battles")
    rows = session.sql(_query("preflab_battles", list(df.columns), where)).collect()
    return pa.table({
        "model_a": pa.array([r["model_a"] for r in rows], pa.string()),
        "model_b": pa.array([r["model_b"] for r in rows], pa.string()),
        "winner": pa.array([r["winner"] for r in rows], pa.string()),
        "unit": pa.array([float(r["unit"]) for r in rows], pa.float64()),
        "w": pa.array([float(r["w"]) for r in rows], pa.float64()),
        "n": pa.array([int(r["n"]) for r in rows], pa.int64()),
    })


def stream_counts(
    source: str | Path | list[str] | list[Path], *, engine: str = "duckdb", ties: str = "half",
    where: str | None = None, memory_limit: str | None = None, threads: int | None = None,
    spark: Any = None, master: str = "local[2]",
) -> PairCounts:
    """Counts per ``(model_a, model_b, outcome)`` from files of any size.

    Parameters
    ----------
    source : a path, a glob (``"battles/part-*.parquet"``) or a list of paths, all Parquet,
        all CSV/TSV or all JSONL (optionally ``.gz``).
    engine : ``"duckdb"`` (streaming, one machine) or ``"spark"`` (PySpark job).
    ties : ``"half"``, ``"drop"`` or ``"davidson"`` as :func:`preflab.rank.pair_counts`.
    where : SQL filter applied before counting (``"category = 'coding'"``); same dialect
        subset in both engines.
    memory_limit, threads : DuckDB settings (e.g. ``"1GB"``, 2).
    spark, master : an existing SparkSession, or the master URL for a new one.

    Returns
    -------
    PairCounts, equal whichever engine computed it (groups are re-sorted by name).
    """
    if ties not in TIES:
        raise ModelError(f"unknown ties option '{ties}'; use one of {', '.join(TIES)}")
    paths = _paths(source)
    if engine == "duckdb":
        grouped = _duckdb(paths, where, memory_limit, threads)
    elif engine == "spark":
        grouped = _spark(paths, where, spark, master)
    else:
        raise ModelError(f"engine='{engine}': use one of {', '.join(ENGINES)}")
    if grouped.num_rows == 0:
        raise DataError("no comparisons to count", path=paths[0],
                        fix="Check the file, and the --where filter if any.")
    _check_grouped(grouped, paths[0])
    grouped = grouped.sort_by([("model_a", "ascending"), ("model_b", "ascending"),
                               ("winner", "ascending"), ("unit", "ascending")])
    log.info("%s counted %d cells from %d file(s)", engine, grouped.num_rows, len(paths))
    return _from_grouped(grouped, ties)
