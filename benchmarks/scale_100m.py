"""100M battles on one machine: DuckDB streaming counts + Bradley-Terry + 1000-round bootstrap.

Run:  python benchmarks/scale_100m.py            (generates $PREFLAB_BENCH_DATA/battles_100m.parquet
                                                 once, then measures; ~1.5 GB on disk)
      python benchmarks/scale_100m.py --rows 10000000 --data /tmp/b10m.parquet   (smaller)
      python benchmarks/scale_100m.py --spark     (also time the Spark engine on the same file)
      python benchmarks/scale_100m.py --style     (style control at scale: exact chunked Newton)

The data file lives OUTSIDE the repository; never commit it. Each measured step runs as its own
Python process (whole process: start-up, reading, counting, fitting), timed with wall clock and
peak resident memory (ru_maxrss of the child).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DATA = Path(os.environ.get("PREFLAB_BENCH_DATA", Path(__file__).resolve().parent / "_work"))
DEFAULT = BENCH_DATA / "battles_100m.parquet"


def generate(path: Path, rows: int, n_models: int = 100, seed: int = 0) -> dict[str, float]:
    """Write ``rows`` BT battles (true Elo ~ N(0, 150), ties that keep E[y] = p, popularity
    skewed pairs, four style columns without effect) with DuckDB, in bounded memory."""
    import duckdb

    rng = np.random.default_rng(seed)
    elo = rng.normal(0, 150, n_models)
    elo -= elo.mean()
    s = elo * math.log(10) / 400
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET memory_limit = '3GB'")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SELECT setseed({(seed % 1000) / 1000.0})")
    strengths = "[" + ",".join(f"{x:.8f}" for x in s) + "]"
    # a: power-law popularity over the index; b uniform among the others; strengths by list
    # indexing (1-based). A tie has probability 0.2 min(p, 1-p), taken half from each side,
    # so E[y] = p exactly (ties scored 1/2).
    con.execute(f"""
    COPY (
      WITH base AS (
        SELECT i,
               least({n_models - 1}, floor({n_models} * pow(random(), 1.8)))::INTEGER AS a,
               floor(random() * {n_models - 1})::INTEGER AS off,
               random() AS u,
               (50 + floor(random() * 1500))::INTEGER AS ta,
               (50 + floor(random() * 1500))::INTEGER AS tb,
               floor(random() * 6)::INTEGER AS ha, floor(random() * 6)::INTEGER AS hb,
               floor(random() * 12)::INTEGER AS la, floor(random() * 12)::INTEGER AS lb,
               floor(random() * 10)::INTEGER AS ba, floor(random() * 10)::INTEGER AS bb
        FROM range({rows}) r(i)
      ), pairs AS (
        SELECT *, (a + 1 + off) % {n_models} AS b FROM base
      ), probs AS (
        SELECT *, 1.0 / (1.0 + exp(-({strengths}[a + 1] - {strengths}[b + 1]))) AS p FROM pairs
      )
      SELECT CAST(i // 3 AS VARCHAR) AS prompt_id,
             'model-' || lpad(CAST(a AS VARCHAR), 3, '0') AS model_a,
             'model-' || lpad(CAST(b AS VARCHAR), 3, '0') AS model_b,
             CASE WHEN u < p - 0.1 * least(p, 1 - p) THEN 'model_a'
                  WHEN u < p + 0.1 * least(p, 1 - p) THEN 'tie'
                  ELSE 'model_b' END AS winner,
             ta AS style_a_tokens, tb AS style_b_tokens, ha AS style_a_headers,
             hb AS style_b_headers, la AS style_a_lists, lb AS style_b_lists,
             ba AS style_a_bold, bb AS style_b_bold
      FROM probs
    ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1000000, COMPRESSION zstd)
    """)
    con.close()
    truth = {f"model-{i:03d}": float(e) + 1000 for i, e in enumerate(elo)}
    path.with_suffix(".truth.json").write_text(json.dumps(truth))
    return truth


BT_CHILD = r"""
import sys, time, json
t0 = time.time()
from preflab.rank._engines import stream_counts
from preflab.rank import bootstrap_intervals
path, engine, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = stream_counts(path, engine=engine, memory_limit="1GB", threads=2)
t1 = time.time()
r = bootstrap_intervals(c, n_rounds=rounds, rng=0)
t2 = time.time()
print(json.dumps({"count_s": t1 - t0, "fit_boot_s": t2 - t1, "n_rows": c.n_rows,
                  "cells": len(c.weights), "ratings": r.as_dict(),
                  "ci": {m: list(map(float, r.ci[i])) for i, m in enumerate(r.models)}}))
"""


STYLE_CHILD = r"""
import sys, time, json
t0 = time.time()
from preflab.rank._engines import stream_style_control, stream_counts
path = sys.argv[1]
c = stream_counts(path, memory_limit="1GB", threads=2)
t1 = time.time()
passes = []
r = stream_style_control(path, cache_dir=sys.argv[2], memory_limit="1GB", threads=2,
                         progress=lambda advance=1, **k: passes.append(advance))
n = c.n_rows
print(json.dumps({"count_s": t1 - t0, "coef": r.coef.tolist(), "passes": len(passes) + 2,
                  "cache_gb": n * (4 + 1 + 4 * 4) / 1e9}))
"""


def run_child(code: str, *args: str) -> tuple[dict[str, object], float, float]:
    """Run ``code`` in a fresh interpreter; (its JSON output, wall seconds, peak RSS in MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True,
                         text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    wall = time.time() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:
        peak = before  # ru_maxrss of children is a max over all children so far
    return json.loads(out.stdout.strip().splitlines()[-1]), wall, peak / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--generate-only", action="store_true")
    ap.add_argument("--spark", action="store_true")
    ap.add_argument("--style", action="store_true")
    args = ap.parse_args()
    if not args.data.exists():
        t0 = time.time()
        generate(args.data, args.rows)
        print(f"generated {args.rows:,} rows in {time.time() - t0:.1f} s -> {args.data} "
              f"({args.data.stat().st_size / 1e9:.2f} GB)")
    if args.generate_only:
        return
    truth = json.loads(args.data.with_suffix(".truth.json").read_text())
    res, wall, peak = run_child(BT_CHILD, str(args.data), "duckdb", str(args.rounds))
    ratings = res["ratings"]
    assert isinstance(ratings, dict)
    err = max(abs(ratings[m] - truth[m]) for m in truth)
    print(f"duckdb: {res['n_rows']:,} rows -> {res['cells']} cells; count {res['count_s']:.1f} s,"
          f" BT + {args.rounds} bootstrap {res['fit_boot_s']:.1f} s; whole process {wall:.1f} s,"
          f" peak RSS {peak:.0f} MB; max |rating - truth| {err:.2f}")
    if args.spark:
        res2, wall2, _ = run_child(BT_CHILD, str(args.data), "spark", "10")
        r2 = res2["ratings"]
        assert isinstance(r2, dict)
        diff = max(abs(r2[m] - ratings[m]) for m in ratings)
        print(f"spark local[2]: count {res2['count_s']:.1f} s, whole process {wall2:.1f} s; "
              f"max rating difference to duckdb {diff:.2e}")
    if args.style:
        res3, wall3, peak3 = run_child(STYLE_CHILD, str(args.data), str(Path(args.data).parent))
        coef = res3["coef"]
        assert isinstance(coef, list)
        print(f"style control (exact chunked Newton + sandwich, 4 features): count "
              f"{res3['count_s']:.1f} s; whole process {wall3:.1f} s, peak RSS {peak3:.0f} MB; "
              f"{res3['passes']} passes over the data; coef {[round(c, 4) for c in coef]} "
              f"(true 0: the generator's style columns have no effect); "
              f"cache {res3['cache_gb']:.2f} GB on disk")


if __name__ == "__main__":
    main()
