"""Step-level preferences: pair construction on hand-made trees, ProcessBench scoring,
best-of-N, and a PPM trained on PRM800K."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from preflab._errors import DataError
from preflab.data import write_table
from preflab.rm import FeatureConfig, train_reward_model
from preflab.rm._process import (
    StepNode,
    best_of_n_gain,
    choose_threshold,
    evaluate_processbench,
    first_error_prediction,
    processbench_scores,
    solution_scores,
    step_pairs_from_tree,
    step_pairs_to_preferences,
)
from preflab.rm._process_io import read_first_error, read_step_pairs, read_trees, step_candidates

TREE = {
    "children": [
        {"text": "a1", "q": 0.9, "children": [
            {"text": "b1", "q": 0.8}, {"text": "b2", "q": -0.5}, {"text": "b3", "q": 0.1}]},
        {"text": "a2", "q": -0.7},
        {"text": "a3", "q": 0.4},
        {"text": "a4", "q": -0.2},
    ]
}


def test_step_pairs_from_hand_made_tree() -> None:
    pairs = step_pairs_from_tree("p", StepNode.from_dict(TREE), top_k=2)
    got = {(p.prefix, p.chosen, p.rejected) for p in pairs}
    assert got == {
        ((), "a1", "a2"), ((), "a1", "a4"), ((), "a3", "a2"), ((), "a3", "a4"),
        (("a1",), "b1", "b2"), (("a1",), "b3", "b2"),
    }
    assert all(p.q_chosen > p.q_rejected for p in pairs)


def test_step_pairs_top_k_gap_and_bounds() -> None:
    root = StepNode.from_dict(TREE)
    top1 = {(p.prefix, p.chosen, p.rejected) for p in step_pairs_from_tree("p", root, top_k=1)}
    assert top1 == {((), "a1", "a2"), (("a1",), "b1", "b2")}
    gap = step_pairs_from_tree("p", root, top_k=2, min_gap=1.2)
    assert {(p.chosen, p.rejected) for p in gap} == {("a1", "a2"), ("b1", "b2")}
    unbounded = step_pairs_from_tree("p", root, top_k=4, positive_min=None, negative_max=None)
    # every ordered (higher, lower) pair among the root's 4 children and b's 3 = 6 + 3
    assert len(unbounded) == 9


def test_single_child_and_missing_q_make_no_pairs() -> None:
    root = StepNode.from_dict({"children": [{"text": "x", "q": 1.0,
                                             "children": [{"text": "y"}, {"text": "z", "q": -1}]}]})
    assert step_pairs_from_tree("p", root) == []


def test_read_trees_errors_name_the_row(tmp_path: Path) -> None:
    f = tmp_path / "trees.jsonl"
    f.write_text(json.dumps({"problem": "p", "tree": TREE}) + "\n"
                 + json.dumps({"problem": "q", "tree": "{not json"}) + "\n")
    with pytest.raises(DataError, match="row 1"):
        read_trees(f)


def test_first_error_and_f1() -> None:
    assert first_error_prediction(np.array([1.0, 0.5, -1.0, -2.0]), 0.0) == 2
    assert first_error_prediction(np.array([1.0, 0.5]), 0.0) == -1
    rewards = [np.array([1.0, -1.0]), np.array([1.0, 1.0]), np.array([-1.0, 1.0]),
               np.array([1.0, 1.0])]
    res = processbench_scores(rewards, [1, -1, 1, 1], 0.0)
    assert res.error_accuracy == pytest.approx(1 / 3) and res.correct_accuracy == 1.0
    assert res.f1 == pytest.approx(2 * (1 / 3) / (1 / 3 + 1))
    assert choose_threshold(rewards, [1, -1, 1, 1]) <= 1.0


def test_best_of_n_gain() -> None:
    picks, res = best_of_n_gain(["a", "a", "a", "b", "b", "c"],
                                np.array([0.1, 0.9, 0.5, 2.0, 1.0, 3.0]),
                                np.array([0, 1, 0, 0, 1, 1], float))
    assert picks.tolist() == [1, 3, 5]
    assert res.n_groups == 2 and res.selected == 0.5
    assert res.random == pytest.approx((1 / 3 + 0.5) / 2) and res.oracle == 1.0
    assert res.gain == pytest.approx(res.selected - res.random)


@pytest.fixture(scope="module")
def ppm(shared_data: Path) -> object:
    pairs = read_step_pairs(shared_data / "prm800k" / "step_pairs.parquet", split="phase1_train")
    assert len(pairs) == 24046
    sub = pairs.take(np.random.default_rng(0).permutation(len(pairs))[:6000])
    return train_reward_model(sub, features=FeatureConfig(embeddings=None, cross=False,
                                                          length=True, n_features=2**16), rng=0)


def test_ppm_on_prm800k(shared_data: Path, ppm: object) -> None:
    test = read_step_pairs(shared_data / "prm800k" / "step_pairs.parquet", split="phase1_test")
    d = ppm.score(test.prompt, test.chosen) - ppm.score(test.prompt, test.rejected)
    assert len(test) == 2514 and np.mean(d > 0) > 0.55  # same-prefix pair accuracy
    model_written = read_step_pairs(shared_data / "prm800k" / "step_pairs.parquet",
                                    split="phase1_test", human_chosen=False)
    assert len(model_written) == 1503  # the README's "model +1 as chosen" count
    p, s, lab = read_first_error(shared_data / "prm800k" / "first_error.parquet",
                                 split="phase1_test")
    assert len(p) == 1788
    idx = np.random.default_rng(1).permutation(len(p))[:300]
    cp, cs, cl = read_first_error(shared_data / "prm800k" / "first_error.parquet",
                                  split="phase1_train")
    cal_idx = np.random.default_rng(2).permutation(len(cp))[:300]
    res = evaluate_processbench(ppm, [p[i] for i in idx], [s[i] for i in idx],
                                [lab[i] for i in idx],
                                calibration=([cp[i] for i in cal_idx], [cs[i] for i in cal_idx],
                                             [cl[i] for i in cal_idx]))
    assert 0 <= res.f1 <= 1 and res.n_error + res.n_correct == 300


def test_ppm_best_of_n_beats_random(shared_data: Path, ppm: object) -> None:
    cands = step_candidates(shared_data / "prm800k" / "steps.parquet", split="phase1_test")
    r = solution_scores(ppm, cands.column("problem").to_pylist(),
                        cands.column("steps").to_pylist(), aggregate="last")
    _, res = best_of_n_gain(cands.column("group").to_pylist(), r,
                            cands.column("quality").to_numpy())
    assert res.n_groups > 100 and res.gain > 0


def test_solution_scores_aggregates() -> None:
    class Echo:
        def score(self, prompts: list[str], texts: list[str], **_: object) -> np.ndarray:
            return np.array([float(t) for t in texts])

    steps = [["1", "-2", "3"]]
    assert solution_scores(Echo(), ["p"], steps, aggregate="min")[0] == -2
    assert solution_scores(Echo(), ["p"], steps, aggregate="last")[0] == 3
    assert solution_scores(Echo(), ["p"], steps, aggregate="mean")[0] == pytest.approx(2 / 3)
    with pytest.raises(DataError):
        solution_scores(Echo(), ["p"], steps, aggregate="max")


def test_tree_pairs_train_a_ppm(tmp_path: Path) -> None:
    rows = []
    for i in range(60):
        tree = {"children": [{"text": f"compute carefully {i}", "q": 0.8},
                             {"text": f"guess wildly {i}", "q": -0.6},
                             {"text": f"check the units {i}", "q": 0.5},
                             {"text": f"skip the algebra {i}", "q": -0.4}]}
        rows.append({"problem": f"problem {i}", "tree": json.dumps(tree)})
    write_table(pa.Table.from_pylist(rows), tmp_path / "trees.jsonl")
    pairs = read_step_pairs(tmp_path / "trees.jsonl")
    assert len(pairs) == 240
    m = train_reward_model(pairs, features=FeatureConfig(embeddings=None, n_features=2**12),
                           rng=0)
    assert m.score(["problem x"], ["compute carefully now"])[0] > m.score(
        ["problem x"], ["guess wildly now"])[0]
    assert step_pairs_to_preferences([]).chosen == ()
