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
from contextlib import ExitStack
from pathlib import Path
from statistics import NormalDist
from typing import Any

import duckdb
import pyarrow as pa

from preflab._errors import DataError, ModelError
from preflab.rank._counts import TIES, PairCounts, _from_grouped

log = logging.getLogger(__name__)

_Z = NormalDist()  # standard normal quantiles without importing scipy.stats


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


def _read(path: Path, dtype: Any, start: int, count: int) -> Any:
    import numpy as np

    return np.fromfile(path, dtype=dtype, count=count, offset=start * np.dtype(dtype).itemsize)


def stream_style_control(
    source: str | Path | list[str] | list[Path], *,
    features: tuple[str, ...] = ("tokens", "headers", "lists", "bold"),
    anchor: tuple[str, float] | None = None, scale: str = "elo", reg: float = 0.5,
    ties: str = "half", level: float = 0.95, chunk_rows: int = 2_000_000,
    cache_dir: str | Path | None = None, tol: float = 1e-7, memory_limit: str | None = "1GB",
    threads: int | None = None, progress: Any = None,
) -> Any:
    """Style control on files too large for memory: exact chunked Newton + sandwich intervals.

    The contextual BT model has no count reduction (every battle keeps its covariates), so
    each Newton step is one pass over all battles. DuckDB streams the files once into a
    compact on-disk cache (pair index int32, outcome int8, weight float32 when present, raw
    normalised differences float32 per feature: 9 + 4·F bytes a battle), from which each
    step reads ``chunk_rows`` battles at a time, so memory stays bounded by the chunk. The
    start is the plain Bradley–Terry fit of the counts (cheap), so a handful of passes reach
    ``tol`` (log10 units); intervals are the robust sandwich (one more pass). Equals
    :func:`fit_style_control` on the same battles up to float32 storage of the features.
    Returns a :class:`StyleRatings`.
    """
    import tempfile

    import numpy as np
    from scipy.linalg import cho_factor, cho_solve

    from preflab.rank._bradley_terry import PairStats, fit_scores
    from preflab.rank._ratings import Ratings, to_scale
    from preflab.rank._sandwich import wald_ci
    from preflab.rank._style_control import ALPHA, StyleRatings, _grad_hess
    from preflab.rank._style_features import StyleDesign

    counts = stream_counts(source, ties=ties, memory_limit=memory_limit, threads=threads)
    models = counts.models
    n, f = len(models), len(features)
    paths = _paths(source)
    tmp = tempfile.TemporaryDirectory(dir=cache_dir, prefix="preflab-style-")
    try:
        con = duckdb.connect()
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        con.execute("SET enable_progress_bar = false")
        con.register("preflab_models", pa.table({"name": list(models),
                                                 "id": list(range(n))}))
        lst = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
        rel = {"parquet": f"read_parquet({lst})", "csv": f"read_csv_auto({lst})",
               "json": f"read_json_auto({lst})"}[_kind(paths[0])]
        cols = [d[0] for d in con.sql(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
        missing = [f"style_{s}_{x}" for x in features for s in "ab"
                   if f"style_{s}_{x}" not in cols]
        if missing:
            raise DataError(f"style control needs the columns {', '.join(missing)}",
                            path=paths[0], field=missing[0],
                            fix="Convert with `preflab convert --from arena` first.")
        has_w = "weight" in cols
        diffs = ", ".join(
            f"CAST((CAST(style_a_{x} AS DOUBLE) - style_b_{x}) / "
            f"(CAST(style_a_{x} AS DOUBLE) + style_b_{x} + 1) AS FLOAT) AS d{j}"
            for j, x in enumerate(features))
        wsel = ", CAST(COALESCE(weight, 1.0) AS FLOAT) AS w" if has_w else ""
        filt = "WHERE winner NOT IN ('tie', 'tie_bothbad', 'tie (bothbad)')" if ties == "drop" \
            else ""
        q = (f"SELECT CAST(ma.id * {n} + mb.id AS INTEGER) AS pid, "
             f"CAST(CASE winner WHEN 'model_a' THEN 2 WHEN 'model_b' THEN 0 ELSE 1 END "
             f"AS TINYINT) AS y2{wsel}, {diffs} FROM {rel} t "
             f"JOIN preflab_models ma ON t.model_a = ma.name "
             f"JOIN preflab_models mb ON t.model_b = mb.name {filt}")
        rel_q = con.sql(q)
        reader = (rel_q.to_arrow_reader(chunk_rows) if hasattr(rel_q, "to_arrow_reader")
                  else rel_q.fetch_record_batch(chunk_rows))
        total = 0
        s1 = np.zeros(f)
        s2 = np.zeros(f)
        names = ["pid", "y", *(["w"] if has_w else []), *[f"d{j}" for j in range(f)]]
        with ExitStack() as stack:
            files = {k: stack.enter_context(open(Path(tmp.name) / k, "wb")) for k in names}
            for batch in reader:
                cols_np = {c: batch.column(c).to_numpy(zero_copy_only=False)
                           for c in batch.schema.names}
                cols_np["pid"].astype(np.int32).tofile(files["pid"])
                cols_np["y2"].astype(np.int8).tofile(files["y"])
                if has_w:
                    cols_np["w"].astype(np.float32).tofile(files["w"])
                for j in range(f):
                    d = cols_np[f"d{j}"].astype(np.float32)
                    d.tofile(files[f"d{j}"])
                    s1[j] += float(d.sum(dtype=np.float64))
                    s2[j] += float(np.square(d, dtype=np.float64).sum())
                total += batch.num_rows
        con.close()
        mean = s1 / total
        std = np.sqrt(np.maximum(s2 / total - mean**2, 0))
        if np.any(std == 0):
            raise DataError("a style feature never varies", path=paths[0],
                            fix="Leave constant features out.")
        a_idx, b_idx = np.divmod(np.arange(n * n), n)
        pairs = np.column_stack([a_idx, b_idx]).astype(np.int64)

        def chunks() -> Any:
            base = Path(tmp.name)
            for start in range(0, total, chunk_rows):
                cnt = min(chunk_rows, total - start)
                x = np.column_stack([(_read(base / f"d{j}", np.float32, start, cnt) - mean[j])
                                     / std[j] for j in range(f)])
                y = _read(base / "y", np.int8, start, cnt).astype(np.float64) / 2
                w = (_read(base / "w", np.float32, start, cnt).astype(np.float64) if has_w
                     else np.ones(cnt))
                pid = _read(base / "pid", np.int32, start, cnt).astype(np.int64)
                yield StyleDesign(models, pairs, pid, y, w, x, tuple(features), mean, std)

        nat0 = fit_scores(PairStats.from_counts(counts), prior=1e-8)
        theta = np.concatenate([nat0 / ALPHA, np.zeros(f)])
        for _ in range(50):
            g = -reg * theta
            h = reg * np.eye(n + f)
            for d in chunks():
                gc, hc = _grad_hess(theta, d, d.w, 0.0)
                g += gc
                h += hc
            step = cho_solve(cho_factor(h), g)
            theta = theta + step
            if progress is not None:
                progress(advance=1)
            if float(np.max(np.abs(step))) < tol:
                break
        h = reg * np.eye(n + f)
        meat = np.zeros((n + f, n + f))
        for d in chunks():
            from scipy.special import expit

            _, hc = _grad_hess(theta, d, d.w, 0.0)
            h += hc
            eta_r = ALPHA * (theta[:n][pairs[d.pair_id, 0]] - theta[:n][pairs[d.pair_id, 1]])
            p = expit(eta_r + d.x @ theta[n:])
            _, mc = _grad_hess(theta, d, d.w, 0.0, v_override=d.w * (d.y - p) ** 2)
            meat += mc
    finally:
        tmp.cleanup()
    hinv = np.linalg.inv(h)
    cov = hinv @ meat @ hinv
    rating = to_scale(ALPHA * theta[:n], models, scale=scale, anchor=anchor)
    ci = wald_ci(rating, ALPHA**2 * cov[:n, :n], models, scale=scale, anchor=anchor,
                 level=level)
    z = float(_Z.inv_cdf(0.5 + level / 2))
    coef = theta[n:]
    se_b = np.sqrt(np.diag(cov)[n:])
    games, wr = counts.per_model()
    r = Ratings(models, rating, method="style_control", scale=scale, anchor=anchor, n=games,
                win_rate=wr, n_comparisons=total,
                params={"features": list(features), "reg": reg, "engine": "duckdb-chunked"})
    r = r.with_intervals(ci, method="sandwich", level=level)
    return StyleRatings(r, tuple(features), coef, np.column_stack([coef - z * se_b,
                                                                  coef + z * se_b]), mean, std)
