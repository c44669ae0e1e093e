"""Converters between comparisons, scores and rankings; swap_sides."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from preflab._errors import DataError
from preflab.data import (
    comparisons_to_rankings,
    conform,
    rankings_to_comparisons,
    scores_to_comparisons,
    swap_sides,
)


def test_rankings_to_comparisons_every_pair_and_ties_within_groups() -> None:
    rankings = conform(pa.table({
        "prompt_id": ["p"],
        "models": pa.array([[["a"], ["b", "c"], ["d"]]], pa.list_(pa.list_(pa.string()))),
        "judge": ["human:1"],
    }), "rankings")
    c = rankings_to_comparisons(rankings).to_pylist()
    assert len(c) == 6
    got = {(r["model_a"], r["model_b"]): r["winner"] for r in c}
    assert got == {("a", "b"): "model_a", ("a", "c"): "model_a", ("a", "d"): "model_a",
                   ("b", "c"): "tie", ("b", "d"): "model_a", ("c", "d"): "model_a"}
    assert {r["judge"] for r in c} == {"human:1"}


def test_rankings_with_a_repeated_model_is_an_error() -> None:
    rankings = pa.table({"prompt_id": ["p"], "models": [[["a"], ["a"]]]})
    with pytest.raises(DataError, match="appears twice"):
        rankings_to_comparisons(rankings)


def test_scores_to_comparisons() -> None:
    scores = pa.table({"prompt_id": ["p", "p", "p", "q", "q"],
                       "model": ["a", "b", "c", "a", "b"],
                       "score": [3.0, 5.0, 3.0, 1.0, 0.0]})
    c = scores_to_comparisons(scores).to_pylist()
    got = {(r["prompt_id"], r["model_a"], r["model_b"]): r["winner"] for r in c}
    assert got == {("p", "a", "b"): "model_b", ("p", "a", "c"): "tie",
                   ("p", "b", "c"): "model_a", ("q", "a", "b"): "model_a"}


def test_scores_twice_for_the_same_prompt_is_an_error() -> None:
    scores = pa.table({"prompt_id": ["p", "p"], "model": ["a", "a"], "score": [1.0, 2.0]})
    with pytest.raises(DataError, match="scored more than once"):
        scores_to_comparisons(scores)


def test_comparisons_to_rankings_and_back() -> None:
    table = conform(pa.table({"prompt_id": ["1", "2", "3"], "model_a": ["x", "x", "y"],
                              "model_b": ["y", "z", "z"],
                              "winner": ["model_a", "model_b", "tie"]}), "comparisons")
    r = comparisons_to_rankings(table)
    assert r.column("models").to_pylist() == [[["x"], ["y"]], [["z"], ["x"]], [["y", "z"]]]
    back = rankings_to_comparisons(r)
    assert back.column("winner").to_pylist() == ["model_a", "model_a", "tie"]
    assert back.column("model_a").to_pylist() == ["x", "z", "y"]


WINNERS = st.sampled_from(["model_a", "model_b", "tie", "tie_bothbad"])


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("efgh"), WINNERS,
                          st.floats(0, 100), st.floats(0, 100), st.floats(1, 2)),
                min_size=1, max_size=20))
def test_swap_sides_is_an_involution_that_flips_winners(rows: list[tuple]) -> None:  # type: ignore[type-arg]
    table = pa.table({
        "prompt_id": [str(i) for i in range(len(rows))],
        "model_a": [r[0] for r in rows], "model_b": [r[1] for r in rows],
        "winner": [r[2] for r in rows],
        "style_a_tokens": [r[3] for r in rows], "style_b_tokens": [r[4] for r in rows],
        "preference": [r[5] for r in rows],
    })
    s = swap_sides(table)
    assert s.schema == table.schema
    assert s.column("model_a").to_pylist() == table.column("model_b").to_pylist()
    assert s.column("style_a_tokens").to_pylist() == table.column("style_b_tokens").to_pylist()
    flip = {"model_a": "model_b", "model_b": "model_a", "tie": "tie", "tie_bothbad": "tie_bothbad"}
    assert s.column("winner").to_pylist() == [flip[w] for w in table.column("winner").to_pylist()]
    twice = swap_sides(s)
    assert twice.drop(["preference"]).equals(table.drop(["preference"]))
    assert twice.column("preference").to_pylist() == pytest.approx(
        table.column("preference").to_pylist())
