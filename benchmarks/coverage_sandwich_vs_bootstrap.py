"""Coverage of 95% intervals: sandwich (plain, clustered) vs percentile bootstrap, in simulation.

Run:  python benchmarks/coverage_sandwich_vs_bootstrap.py [--reps 300] [--rounds 200]

Bradley-Terry battles among 10 models (true strengths ~ N(0, 0.8) logits) with ties that keep
E[y] = p (so ties-as-half is the right estimand). Two designs:
  independent  every battle independent (3000 battles);
  clustered    battles come in prompts of 5 copies of one outcome (3000 battles, 600 prompts),
               i.e. strongly correlated votes within a prompt.
For each replicate: preflab's sandwich (Wald), clustered sandwich (by prompt_id) and the
counts bootstrap (lead's bootstrap_intervals, multinomial, --rounds rounds). Reports the share
of (model, replicate) intervals covering the true centred strength, the mean width (Elo
points) and the time per interval set.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa

from preflab.rank import bootstrap_intervals
from preflab.rank._sandwich import sandwich_intervals


def simulate(rng: np.random.Generator, s: np.ndarray, n: int, cluster: int) -> pa.Table:
    m = len(s)
    g = n // cluster
    a = rng.integers(0, m, g)
    b = (a + rng.integers(1, m, g)) % m
    p = 1 / (1 + np.exp(-(s[a] - s[b])))
    u = rng.random(g)
    tie = 0.2 * np.minimum(p, 1 - p)
    win = np.where(u < p - tie / 2, "model_a", np.where(u < p + tie / 2, "tie", "model_b"))
    rep = np.repeat(np.arange(g), cluster)
    names = np.array([f"m{i:02d}" for i in range(m)])
    return pa.table({"prompt_id": rep.astype(str), "model_a": names[a][rep],
                     "model_b": names[b][rep], "winner": win[rep]})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--battles", type=int, default=3000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    s = rng.normal(0, 0.8, args.models)
    truth = (s - s.mean()) * 400 / np.log(10) + 1000
    print(f"{args.reps} replicates, {args.models} models, {args.battles} battles, "
          f"bootstrap {args.rounds} rounds; 95% intervals")
    print(f"{'design':12s} {'method':20s} {'coverage':>9s} {'width':>8s} {'ms/fit':>8s}")
    for design, cluster in (("independent", 1), ("clustered", 5)):
        stats: dict[str, list[float]] = {}
        for rep in range(args.reps):
            t = simulate(rng, s, args.battles, cluster)
            for name, fn in (
                ("sandwich", lambda t: sandwich_intervals(t)),
                ("sandwich-cluster", lambda t: sandwich_intervals(t, cluster="prompt_id")),
                ("bootstrap", lambda t, r=rep: bootstrap_intervals(t, n_rounds=args.rounds,
                                                                     rng=r)),
            ):
                t0 = time.perf_counter()
                r = fn(t)
                dt = time.perf_counter() - t0
                assert r.ci is not None
                idx = [r.models.index(f"m{i:02d}") for i in range(args.models)]
                ci = r.ci[idx]
                cov = (ci[:, 0] <= truth) & (truth <= ci[:, 1])
                st = stats.setdefault(name, [0.0, 0.0, 0.0, 0.0])
                st[0] += cov.sum()
                st[1] += cov.size
                st[2] += float(np.mean(ci[:, 1] - ci[:, 0]))
                st[3] += dt
        for name, (hit, tot, width, secs) in stats.items():
            print(f"{design:12s} {name:20s} {hit / tot:9.3f} {width / args.reps:8.1f} "
                  f"{1000 * secs / args.reps:8.1f}")


if __name__ == "__main__":
    main()
