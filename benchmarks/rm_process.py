"""Process preference model (rStar-Math-style PPM) on PRM800K phase 1, in one run.

Trains the embedded PPM on the phase1_train same-prefix step pairs (24,046; and again
without the pairs whose chosen step a labeller wrote, 14,843), then on
phase1_test: pair accuracy on the 2,514 test step pairs (vs. longer/shorter-step baselines),
ProcessBench-style first-error F1 on the 1,788 first-error items (threshold chosen on 2,000
train items), and step-level best-of-N over the rated alternatives of each test step.

    python benchmarks/rm_process.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from preflab.rm import FeatureConfig, train_reward_model
from preflab.rm._eval import correct_of
from preflab.rm._process import (
    best_of_n_gain,
    evaluate_processbench,
    processbench_scores,
    solution_scores,
)
from preflab.rm._process_io import read_first_error, read_step_pairs, step_candidates

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "prm800k"


def main() -> None:
    for human_chosen in (True, False):
        run(human_chosen)


def run(human_chosen: bool) -> None:
    out: dict[str, object] = {"human_chosen": human_chosen}
    print(f"--- PPM trained on {'all' if human_chosen else 'model-written-chosen'} train pairs")
    train = read_step_pairs(DATA / "step_pairs.parquet", split="phase1_train",
                            human_chosen=human_chosen)
    test = read_step_pairs(DATA / "step_pairs.parquet", split="phase1_test")
    t0, c0 = time.perf_counter(), time.process_time()
    ppm = train_reward_model(train, features=FeatureConfig(embeddings=None, cross=False,
                                                           length=True), rng=0)
    out["train_wall_s"] = time.perf_counter() - t0
    out["train_cpu_s"] = time.process_time() - c0
    d = ppm.score(test.prompt, test.chosen) - ppm.score(test.prompt, test.rejected)
    lc = np.array([len(t) for t in test.chosen], float)
    lr = np.array([len(t) for t in test.rejected], float)
    out["pair_accuracy"] = float(np.mean(correct_of(d)))
    out["pair_longer"] = float(np.mean(correct_of(lc - lr)))
    out["pair_shorter"] = float(np.mean(correct_of(lr - lc)))
    model_only = read_step_pairs(DATA / "step_pairs.parquet", split="phase1_test",
                                 human_chosen=False)
    dm = (ppm.score(model_only.prompt, model_only.chosen)
          - ppm.score(model_only.prompt, model_only.rejected))
    out["pair_accuracy_model_written"] = float(np.mean(correct_of(dm)))
    print(f"model-written-chosen test pairs ({len(model_only)}): PPM "
          f"{out['pair_accuracy_model_written']:.3f}")
    print(f"step pairs (test, {len(test)}): PPM {out['pair_accuracy']:.3f}; longer "
          f"{out['pair_longer']:.3f}, shorter {out['pair_shorter']:.3f}; trained on "
          f"{len(train)} pairs in {out['train_wall_s']:.1f}s wall / {out['train_cpu_s']:.1f}s CPU")

    cp, cs, cl = read_first_error(DATA / "first_error.parquet", split="phase1_train")
    idx = np.random.default_rng(0).permutation(len(cp))[:2000]
    p, s, lab = read_first_error(DATA / "first_error.parquet", split="phase1_test")
    pb = evaluate_processbench(ppm, p, s, lab, calibration=(
        [cp[i] for i in idx], [cs[i] for i in idx], [cl[i] for i in idx]))
    out["processbench"] = pb.to_dict()
    # trivial rules on the same items: "the last step is wrong" and "no step is wrong"
    last = processbench_scores([np.r_[np.ones(len(x) - 1), -1.0] for x in s], lab, 0.0)
    out["processbench_last_step_rule_f1"] = last.f1
    print(f"ProcessBench-style (test, {pb.n_error} erroneous + {pb.n_correct} correct): "
          f"error acc {pb.error_accuracy:.3f}, correct acc {pb.correct_accuracy:.3f}, "
          f"F1 {pb.f1:.3f} (threshold {pb.threshold:.3f}); last-step rule F1 {last.f1:.3f}, "
          f"no-error rule F1 0.000")

    cands = step_candidates(DATA / "steps.parquet", split="phase1_test")
    r = solution_scores(ppm, cands.column("problem").to_pylist(),
                        cands.column("steps").to_pylist(), aggregate="last")
    _, bon = best_of_n_gain(cands.column("group").to_pylist(), r,
                            cands.column("quality").to_numpy())
    out["best_of_n"] = bon.to_dict()
    print(f"best-of-N over rated step alternatives ({bon.n_groups} steps, mean N "
          f"{bon.mean_n:.1f}): P(+1) selected {bon.selected:.3f} vs random {bon.random:.3f} "
          f"(gain {bon.gain:+.3f}), oracle {bon.oracle:.3f}")
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
