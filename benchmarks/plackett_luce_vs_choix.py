"""Plackett-Luce on K-wise votes: preflab vs choix 0.4.1, same votes, same run.

Run:  python benchmarks/plackett_luce_vs_choix.py [--sizes 10k,100k,1m] [--k 4] [--models 100]

Votes are drawn from a Plackett-Luce model (Gumbel trick; strengths ~ N(0, 1)). Timed in this
process: preflab from the rankings table (``ranking_data`` + ``pl_mle``, MM and spectral) and
choix from its list of tuples (``mm_rankings`` and ``ilsr_rankings``), all to tolerance 1e-8
(choix's default). Prints seconds, the speed ratio and the largest log-strength difference.
"""

from __future__ import annotations

import argparse
import time

import choix
import numpy as np
import pyarrow as pa

from preflab.rank._plackett_luce import pl_mle, ranking_data


def votes(n: int, m: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    s = rng.normal(0, 1, m)
    items = np.argsort(rng.random((n, m)), axis=1)[:, :k]  # k distinct models per vote
    noisy = s[items] + rng.gumbel(size=(n, k))
    return np.take_along_axis(items, np.argsort(-noisy, axis=1), axis=1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10k,100k,1m")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--skip-choix-mm-above", type=int, default=100_000)
    args = ap.parse_args()
    sizes = [int(float(x[:-1]) * (1e3 if x[-1] == "k" else 1e6)) for x in args.sizes.split(",")]
    names = np.array([f"m{i:03d}" for i in range(args.models)])
    print(f"{'votes':>9s} {'method':9s} {'preflab s':>9s} {'choix s':>9s} {'speed-up':>8s} "
          f"{'max|Δ log-strength|':>20s}")
    for n in sizes:
        v = votes(n, args.models, args.k)
        table = pa.table({"models": [[[names[x]] for x in row] for row in v]})
        data = [tuple(int(x) for x in row) for row in v]
        for method, peer in (("mm", choix.mm_rankings), ("spectral", choix.ilsr_rankings)):
            t0 = time.perf_counter()
            ours = pl_mle(ranking_data(table), method=method, tol=1e-8)
            t1 = time.perf_counter()
            if method == "mm" and n > args.skip_choix_mm_above:
                print(f"{n:9,d} {method:9s} {t1 - t0:9.2f} {'skipped':>9s}")
                continue
            ref = peer(args.models, data, tol=1e-8)
            t2 = time.perf_counter()
            diff = float(np.max(np.abs(ours - (ref - ref.mean()))))
            print(f"{n:9,d} {method:9s} {t1 - t0:9.2f} {t2 - t1:9.2f} "
                  f"{(t2 - t1) / (t1 - t0):7.1f}x {diff:20.2e}")


if __name__ == "__main__":
    main()
