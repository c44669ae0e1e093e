"""Active sampling: votes needed to reach a ranking accuracy, per strategy, vs uniform pairing.

Run:  python benchmarks/active_sampling.py [--models 30] [--seeds 5] [--batch 50]

Simulation: true Bradley-Terry strengths ~ N(0, 1) (logit scale) for ``--models`` models; each
run starts from a warm-up of 2 votes per pair-neighbour chain (every model compared), then asks
each strategy for batches of ``--batch`` pairs, draws the outcomes from the true model, refits,
and records the number of votes at which (a) Kendall tau to the true order first reaches
``--tau`` and stays there (checked at every batch), and (b) the top-k set is exactly right.
Reports the median over seeds and the ratio uniform / strategy (> 1 means fewer votes needed).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import kendalltau

from preflab.rank._active import next_pairs
from preflab.rank._sandwich import BTCounts, bt_newton


def run(strategy: str, truth: np.ndarray, seed: int, args: argparse.Namespace) -> tuple[int, int]:
    rng = np.random.default_rng(seed)
    m = len(truth)
    names = tuple(f"m{i:03d}" for i in range(m))
    a = list(range(m)) * 2
    b = [(i + 1) % m for i in range(m)] * 2
    y = [float(rng.random() < 1 / (1 + np.exp(-(truth[i] - truth[j]))))
         for i, j in zip(a, b, strict=True)]
    tau_at = top_at = -1
    top_true = set(np.argsort(-truth)[: args.top])
    while len(a) < args.max_votes:
        mu = np.column_stack([a, b])
        s = bt_newton(mu, np.array(y), np.ones(len(y)), m, prior=0.05)
        tau = kendalltau(s, truth)[0]
        top = set(np.argsort(-s)[: args.top]) == top_true
        if tau >= args.tau and tau_at < 0:
            tau_at = len(a)
        elif tau < args.tau:
            tau_at = -1
        if top and top_at < 0:
            top_at = len(a)
        elif not top:
            top_at = -1
        if tau_at > 0 and top_at > 0 and len(a) > 4 * m:
            break
        state = BTCounts(names, mu, np.array(y), np.ones(len(y)))
        for ma, mb in next_pairs(state, args.batch, strategy=strategy, rng=rng):
            i, j = names.index(ma), names.index(mb)
            a.append(i)
            b.append(j)
            y.append(float(rng.random() < 1 / (1 + np.exp(-(truth[i] - truth[j])))))
    return (tau_at if tau_at > 0 else args.max_votes), (top_at if top_at > 0 else args.max_votes)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--tau", type=float, default=0.9)
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--max-votes", type=int, default=30000)
    args = ap.parse_args()
    res: dict[str, list[tuple[int, int]]] = {}
    t0 = time.time()
    for seed in range(args.seeds):
        truth = np.random.default_rng(1000 + seed).normal(0, 1, args.models)
        for strategy in ("uniform", "info", "ucb"):
            res.setdefault(strategy, []).append(run(strategy, truth, seed, args))
    print(f"{args.models} models, batches of {args.batch}, {args.seeds} seeds, "
          f"median votes to reach the target ({time.time() - t0:.0f} s)")
    print(f"{'strategy':10s} {'tau>=' + str(args.tau):>12s} {'top-' + str(args.top):>10s} "
          f"{'ratio tau':>10s} {'ratio top':>10s}")
    base = np.median([r[0] for r in res["uniform"]]), np.median([r[1] for r in res["uniform"]])
    for strategy, rows in res.items():
        t, k = np.median([r[0] for r in rows]), np.median([r[1] for r in rows])
        print(f"{strategy:10s} {t:12.0f} {k:10.0f} {base[0] / t:10.2f} {base[1] / k:10.2f}")


if __name__ == "__main__":
    main()
