"""Multi-aspect heads, scoring, the RM as a judge, best-of-N, images, and export round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from rm_helpers import FAST, synthetic_pairs

from preflab._errors import DataError, PreflabError
from preflab.data import read_table, write_table
from preflab.rm import load_reward_model, read_pairs, train_reward_model
from preflab.rm._backend import RewardBackend, StubImageBackend
from preflab.rm._export import export_from_comparisons, export_from_scores
from preflab.rm._pairs import PreferencePairs
from preflab.rm._use import best_of_n, rm_judge, score_responses


def _concat(*ps: PreferencePairs) -> PreferencePairs:
    return PreferencePairs(*(
        (np.concatenate([getattr(p, f) for p in ps])
         if isinstance(getattr(ps[0], f), np.ndarray) else sum((getattr(p, f) for p in ps), ()))
        for f in PreferencePairs.__dataclass_fields__))


@pytest.fixture(scope="module")
def aspect_model() -> object:
    helpful = synthetic_pairs(150, rng=1, aspect="helpful", good=["a detailed answer on"],
                              bad=["a vague answer on"])
    safe = synthetic_pairs(150, rng=2, aspect="safe", good=["a gentle reply on"],
                           bad=["a rude reply on"])
    # overall preferences: mostly decided by helpfulness
    overall = synthetic_pairs(150, rng=3, aspect="overall",
                              good=["a detailed answer on", "a detailed rude reply on"],
                              bad=["a vague answer on", "a vague gentle reply on"])
    return train_reward_model(_concat(helpful, safe, overall), features=FAST, rng=0,
                              combine="learn")


def test_one_head_per_aspect_and_learned_combination(aspect_model: object) -> None:
    m = aspect_model
    assert set(m.heads) == {"helpful", "safe", "overall"}
    p = ["Human: tell me about tea\n\nAssistant:"]
    s = lambda text, a: m.score(p, [text], aspect=a)[0]  # noqa: E731
    assert s("a detailed answer on tea", "helpful") > s("a vague answer on tea", "helpful")
    assert s("a gentle reply on tea", "safe") > s("a rude reply on tea", "safe")
    assert set(m.combine) == {"helpful", "safe"}
    assert sum(m.combine.values()) == pytest.approx(1.0)
    assert m.combine["helpful"] > m.combine["safe"]
    with pytest.raises(PreflabError, match="no 'style' head"):
        m.score(p, ["x"], aspect="style")


def test_given_combination_and_errors() -> None:
    pairs = _concat(synthetic_pairs(40, aspect="a"), synthetic_pairs(40, aspect="b"))
    m = train_reward_model(pairs, features=FAST, combine={"a": 0.25, "b": 0.75})
    x = (["Human: q\n\nAssistant:"], ["glad to help with tea"])
    expect = 0.25 * m.score(*x, aspect="a") + 0.75 * m.score(*x, aspect="b")
    assert m.score(*x) == pytest.approx(expect)
    with pytest.raises(PreflabError, match="unknown aspects"):
        train_reward_model(pairs, features=FAST, combine={"c": 1.0})
    with pytest.raises(PreflabError, match="overall"):
        train_reward_model(pairs, features=FAST, combine="learn")


RESP = pa.table({
    "prompt_id": ["p1", "p1", "p1", "p2", "p2"],
    "model": ["m1", "m2", "m3", "m1", "m2"],
    "text": ["glad to help with tea.", "no idea about tea.", "a clear explanation of tea.",
             "go away with maps.", "a careful answer about maps."],
    "prompt": ["Human: tea?\n\nAssistant:"] * 3 + ["Human: maps?\n\nAssistant:"] * 2,
    "image": ["img/p1m1.png", None, "https://x.org/p1m3.png", None, "img/p2m2.png"],
    "correct": [1.0, 0.0, 1.0, 0.0, 1.0],
})


@pytest.fixture(scope="module")
def toy_model() -> object:
    return train_reward_model(synthetic_pairs(200), features=FAST, rng=0, name="toy")


def test_score_table(toy_model: object) -> None:
    s = score_responses(toy_model, RESP)
    assert s.column_names == ["prompt_id", "model", "score", "judge", "aspect"]
    assert set(s.column("judge").to_pylist()) == {"rm:toy"}
    sc = s.column("score").to_pylist()
    assert sc[0] > sc[1] and sc[4] > sc[3]


def test_rm_judge_all_pairs_and_given(toy_model: object) -> None:
    c = rm_judge(toy_model, RESP)
    assert c.num_rows == 3 + 1
    rows = {(r["prompt_id"], r["model_a"], r["model_b"]): r["winner"] for r in c.to_pylist()}
    assert rows[("p1", "m1", "m2")] == "model_a" and rows[("p1", "m2", "m3")] == "model_b"
    assert rows[("p2", "m1", "m2")] == "model_b"
    given = pa.table({"prompt_id": ["p2"], "model_a": ["m1"], "model_b": ["m2"],
                      "winner": ["model_a"], "category": ["x"]})
    out = rm_judge(toy_model, RESP, given, tie_margin=1e9)
    assert out.column("winner").to_pylist() == ["tie"]
    assert out.column("category").to_pylist() == ["x"]
    bad = given.set_column(2, "model_b", pa.array(["nobody"]))
    with pytest.raises(DataError, match="row 0"):
        rm_judge(toy_model, RESP, bad)


def test_best_of_n_with_gain(toy_model: object) -> None:
    sel, res = best_of_n(toy_model, RESP, quality="correct")
    assert sel.column("model").to_pylist()[1] == "m2"
    assert res is not None and res.selected == 1.0 and res.gain > 0


def test_images_reach_the_backend(toy_model: object) -> None:
    stub = StubImageBackend(text_model=toy_model)
    assert isinstance(stub, RewardBackend)
    s = score_responses(stub, RESP)
    assert stub.seen_images == RESP.column("image").to_pylist()
    base = score_responses(toy_model, RESP).column("score").to_numpy()
    assert np.allclose(s.column("score").to_numpy() - base, [1, 0, 1, 0, 1])


COMP = pa.table({
    "prompt_id": ["p1", "p1", "p1", "p2", "p1"],
    "model_a": ["m1", "m2", "m1", "m1", "m1"],
    "model_b": ["m2", "m3", "m3", "m2", "m2"],
    "winner": ["model_a", "model_b", "tie", "model_b", "model_a"],
    "weight": [3.0, 1.0, 1.0, 2.0, 3.0],
})


def test_export_from_comparisons_filters() -> None:
    res = export_from_comparisons(COMP, RESP)
    assert res.table.num_rows == 3  # tie dropped, duplicate dropped
    assert res.removed["tie"] == 1 and res.removed["duplicate"] == 1
    first = res.table.to_pylist()[0]
    assert first["chosen"] == "glad to help with tea." and first["rejected"] == "no idea about tea."
    assert first["chosen_image"] == "img/p1m1.png" and first["prompt"].startswith("Human: tea?")
    keep = export_from_comparisons(COMP, RESP, ties="keep", dedupe=False)
    assert keep.table.num_rows == 5 and keep.table.column("tie").to_pylist()[2]
    strong = export_from_comparisons(COMP, RESP, min_weight=2)
    assert strong.table.num_rows == 2 and strong.removed["min_weight"] == 1
    bal = export_from_comparisons(COMP, RESP, max_per_prompt=1, rng=0)
    assert sorted(bal.table.column("prompt_id").to_pylist()) == ["p1", "p2"]
    assert bal.for_format("trl").column_names == ["prompt", "chosen", "rejected"]


def test_export_round_trip_through_trl_file(tmp_path: Path) -> None:
    res = export_from_comparisons(COMP, RESP, ties="drop")
    out = tmp_path / "dpo.jsonl"
    write_table(res.for_format("trl"), out)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert set(lines[0]) == {"prompt", "chosen", "rejected"}
    back = read_pairs(out)  # the pairs adapter reads TRL's format back
    assert list(back.chosen) == res.table.column("chosen").to_pylist()
    assert list(back.rejected) == res.table.column("rejected").to_pylist()
    assert list(back.prompt) == res.table.column("prompt").to_pylist()


def test_export_from_scores_binarization() -> None:
    scores = pa.table({"prompt_id": ["p1", "p1", "p1", "p2", "p2"],
                       "model": ["m1", "m2", "m3", "m1", "m2"],
                       "score": [5.0, 1.0, 3.0, 2.0, 2.0]})
    worst = export_from_scores(scores, RESP, method="best-vs-worst")
    assert worst.table.num_rows == 1 and worst.removed["min_gap"] == 1  # p2 is a tie
    r = worst.table.to_pylist()[0]
    assert (r["chosen_model"], r["rejected_model"], r["margin"]) == ("m1", "m2", 4.0)
    picks = {export_from_scores(scores, RESP, rng=s).table.column("rejected_model")[0].as_py()
             for s in range(20)}
    assert picks == {"m2", "m3"}  # best vs a random other response
    gap = export_from_scores(scores, RESP, method="best-vs-worst", min_gap=5)
    assert gap.table.num_rows == 0
    missing = scores.set_column(1, "model", pa.array(["m1", "m2", "m9", "m1", "m2"]))
    with pytest.raises(DataError, match="row 2"):
        export_from_scores(missing, RESP)


def test_hh_export_reload_model_and_judge(shared_data: Path, tmp_path: Path) -> None:
    pairs = read_pairs(shared_data / "hh-rlhf" / "pairs.parquet")
    sub = pairs.take(np.arange(300))
    m = train_reward_model(sub, features=FAST, rng=0, name="hh-small")
    m.save(tmp_path / "m")
    again = load_reward_model(tmp_path / "m")
    assert again.name == "hh-small"
    resp = pa.table({"prompt_id": ["a", "a"], "model": ["x", "y"],
                     "text": [sub.chosen[0], sub.rejected[0]],
                     "prompt": [sub.prompt[0]] * 2})
    write_table(resp, tmp_path / "r.parquet")
    c = rm_judge(again, read_table(tmp_path / "r.parquet"))
    assert c.column("judge").to_pylist() == ["rm:hh-small"]
