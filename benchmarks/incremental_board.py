"""Incremental boards: append a small batch to a board of many models and refit (warm start).

Run:  python benchmarks/incremental_board.py [--models 300] [--battles 1000000] [--batch 100]

Builds a SQLite board with ``--battles`` comparisons among ``--models`` models, then appends
``--appends`` batches of ``--batch`` battles, timing each append (SQLite upsert of the new cells)
and each warm-started refit, and compares the final ratings with a full refit of everything
(``fit_bradley_terry`` on the concatenated table).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import pyarrow as pa

from preflab.rank import fit_bradley_terry
from preflab.rank._incremental import Board


def battles(rng: np.random.Generator, s: np.ndarray, n: int) -> pa.Table:
    m = len(s)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    p = 1 / (1 + np.exp(-(s[a] - s[b])))
    u = rng.random(n)
    tie = 0.2 * np.minimum(p, 1 - p)
    win = np.where(u < p - tie / 2, "model_a", np.where(u < p + tie / 2, "tie", "model_b"))
    names = np.array([f"model-{i:03d}" for i in range(m)])
    return pa.table({"prompt_id": np.arange(n).astype(str), "model_a": names[a],
                     "model_b": names[b], "winner": win})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=300)
    ap.add_argument("--battles", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--appends", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    s = rng.normal(0, 1, args.models)
    first = battles(rng, s, args.battles)
    with tempfile.TemporaryDirectory() as d:
        board = Board.create(f"{d}/x.board")
        t0 = time.perf_counter()
        board.append(first)
        t1 = time.perf_counter()
        board.fit()
        print(f"initial: {args.battles:,} battles, {args.models} models: append "
              f"{t1 - t0:.2f} s, cold fit {board.last_fit_seconds * 1000:.0f} ms "
              f"({board.last_iterations} Newton steps)")
        tables = [first]
        app, fit, steps = [], [], []
        for _ in range(args.appends):
            t = battles(rng, s, args.batch)
            tables.append(t)
            t0 = time.perf_counter()
            board.append(t)
            app.append(time.perf_counter() - t0)
            board.fit()
            fit.append(board.last_fit_seconds)
            steps.append(board.last_iterations)
        r = board.fit()
        full = fit_bradley_terry(pa.concat_tables(tables))
        diff = max(abs(r[m] - full[m]) for m in full.models)
        print(f"{args.appends} appends of {args.batch}: append median "
              f"{1000 * np.median(app):.1f} ms, warm refit median {1000 * np.median(fit):.1f} ms "
              f"(max {1000 * max(fit):.1f} ms, {np.median(steps):.0f} Newton steps); "
              f"max |incremental - full refit| {diff:.2e} rating points")
        board.close()


if __name__ == "__main__":
    main()
