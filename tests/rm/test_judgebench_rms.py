"""Our accuracy on JudgeBench against the benchmark's official metric, using the published
verdicts of 5 reward models (scores of both orders) in ../shared/data/judgebench."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from preflab.rm import read_pairs
from preflab.rm._eval import evaluate_diffs

FLIP = {"A>B": "B>A", "B>A": "A>B"}


def official_accuracy(rows: list[dict[str, object]], labels: dict[str, str]) -> float:
    """JudgeBench's utils/metrics.py rule (see the data README): flip game 2, +1/-1 a game,
    a pair is correct when the sum is > 0."""
    total: dict[str, int] = {}
    for r in rows:
        dec = r["decision"]
        if r["game"] == 2 and dec is not None:
            dec = FLIP.get(str(dec), dec)
        lab = labels[str(r["pair_id"])]
        s = 1 if dec == lab else (-1 if dec in FLIP else 0)
        total[str(r["pair_id"])] = total.get(str(r["pair_id"]), 0) + s
    return float(np.mean([v > 0 for v in total.values()]))


def test_reward_model_accuracy_matches_official_metric(shared_data: Path) -> None:
    jb = read_pairs(shared_data / "judgebench" / "pairs.parquet")
    labels = dict(zip(pq.read_table(shared_data / "judgebench" / "pairs.parquet")
                      .column("pair_id").to_pylist(),
                      pq.read_table(shared_data / "judgebench" / "pairs.parquet")
                      .column("label").to_pylist(), strict=True))
    verdicts = pq.read_table(shared_data / "judgebench" / "verdicts.parquet").to_pylist()
    rms = sorted({str(v["judge_model"]) for v in verdicts if v["judge_name"] == "reward_model"})
    assert len(rms) == 5
    for rm in rms:
        rows = [v for v in verdicts if v["judge_model"] == rm]
        game1 = {str(v["pair_id"]): v for v in rows if v["game"] == 1}
        idx = np.array([i for i, p in enumerate(jb.pair_id) if p in game1])
        sub = jb.take(idx)
        sign = np.array([1.0 if labels[p] == "A>B" else -1.0 for p in sub.pair_id])
        d = sign * np.array([float(game1[p]["score_A"]) - float(game1[p]["score_B"])  # type: ignore[arg-type]
                             for p in sub.pair_id])
        ours = evaluate_diffs(d, sub, model=rm)
        official = official_accuracy(rows, labels)
        assert ours.overall.n == 350 and set(ours.by_category) == {
            "knowledge", "reasoning", "math", "coding"}
        # one game's scores vs. the two-game vote: equal unless a pair's two games disagree
        # (near-equal rewards that flip with the order); at most 2 of 350 pairs here
        assert abs(ours.accuracy - official) <= 2 / 350 + 1e-12
        if rm == "Skywork_Skywork-Reward-Gemma-2-27B":
            # JudgeBench paper (Tan et al. 2024), reward models on GPT-4o pairs: 64.29 overall
            assert 100 * official == pytest.approx(64.29, abs=0.01)
