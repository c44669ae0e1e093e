"""Does active matchmaking rank better than uniform for the same number of votes? (simulation)

Simulated arena: ``m`` models with true Bradley-Terry strengths ~ N(0, 1), voters answer
with P(i beats j) = sigma(s_i - s_j). The arena refits every ``refit`` votes (as the live board
does) and picks the next pair with ``choose_models`` in ``uniform`` or ``active`` mode. After
``votes`` votes we fit once more and report, averaged over seeds, the mean absolute error of
the estimated rank, the fraction of adjacent (true-order) pairs ordered correctly, and the
mean squared error of the centred scores. Both modes see the same true strengths per seed.

Run:
    python benchmarks/arena_matchmaking.py --seeds 200
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from preflab.arena import bt_newton, choose_models


def simulate(mode: str, truth: np.ndarray, votes: int, refit: int,
             rng: np.random.Generator) -> tuple[float, float, float]:
    m = len(truth)
    available = ~np.eye(m, dtype=bool)
    pairs: list[tuple[int, int]] = []
    wins: list[float] = []
    games = np.zeros((m, m))
    scores, se = np.zeros(m), np.full(m, 10.0)
    for t in range(votes):
        if t and t % refit == 0:
            scores, se = bt_newton(np.array(pairs), np.array(wins), np.ones(len(wins)), m,
                                   prior=0.01, init=scores)
        pick = choose_models(available, mode=mode, scores=scores, se=se, games=games, rng=rng)
        assert pick is not None
        i, j = pick
        pairs.append((i, j))
        wins.append(float(rng.random() < 1 / (1 + np.exp(truth[j] - truth[i]))))
        games[i, j] += 1
        games[j, i] += 1
    est, _ = bt_newton(np.array(pairs), np.array(wins), np.ones(len(wins)), m, prior=0.01)
    true_rank = np.argsort(np.argsort(-truth))
    est_rank = np.argsort(np.argsort(-est))
    order = np.argsort(-truth)
    adjacent = np.mean([est[order[k]] > est[order[k + 1]] for k in range(m - 1)])
    mse = float(np.mean((est - est.mean() - (truth - truth.mean())) ** 2))
    return float(np.mean(np.abs(est_rank - true_rank))), float(adjacent), mse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=int, default=12)
    ap.add_argument("--votes", type=int, default=600)
    ap.add_argument("--refit", type=int, default=25)
    ap.add_argument("--seeds", type=int, default=200)
    args = ap.parse_args()
    t0 = time.perf_counter()
    res: dict[str, list[tuple[float, float, float]]] = {"uniform": [], "active": []}
    for seed in range(args.seeds):
        truth = np.random.default_rng([seed, 0]).normal(0, 1, args.models)
        for mode in res:
            res[mode].append(simulate(mode, truth, args.votes, args.refit,
                                      np.random.default_rng([seed, 1])))
    print(f"{args.models} models, {args.votes} votes, refit every {args.refit}, "
          f"{args.seeds} seeds ({time.perf_counter() - t0:.0f} s)")
    print("| matchmaking | mean abs rank error | adjacent pairs ordered right | score MSE |")
    print("|---|---|---|---|")
    for mode, rows in res.items():
        a = np.array(rows)
        se = a.std(axis=0) / np.sqrt(len(a))
        print(f"| {mode} | {a[:, 0].mean():.3f} ± {se[0]:.3f} | {a[:, 1].mean():.3f} ± {se[1]:.3f} "
              f"| {a[:, 2].mean():.4f} ± {se[2]:.4f} |")
    act, uni = np.array(res["active"])[:, 0], np.array(res["uniform"])[:, 0]
    d = act - uni
    print(f"paired difference in rank error (active - uniform): {d.mean():.3f} "
          f"± {d.std() / np.sqrt(len(d)):.3f}; ratio {act.mean() / uni.mean():.2f}")


if __name__ == "__main__":
    main()
