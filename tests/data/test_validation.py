"""Every validation error on small hand-made files: the message names file, row, field and fix;
``strict=False`` rejects rows with reasons, and kept + rejected = input rows."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preflab._errors import DataError
from preflab.data import adapt_table, read_comparisons, read_input, write_table


def _write(tmp_path: Path, rows: list[dict[str, Any]], name: str = "arena.jsonl") -> Path:
    p = tmp_path / name
    write_table(pa.Table.from_pylist(rows), p)
    return p


def _battle(a: str = "x", b: str = "y", w: str = "model_a", **kw: Any) -> dict[str, Any]:
    return {"prompt_id": "p", "model_a": a, "model_b": b, "winner": w, **kw}


GOOD = [_battle(), _battle("y", "z", "tie"), _battle("z", "x", "model_b")]


def _error(path: Path, **kw: Any) -> DataError:
    with pytest.raises(DataError) as err:
        read_comparisons(path, **kw)
    return err.value


def test_unknown_winner_label_message_matches_house_style(tmp_path: Path) -> None:
    rows = GOOD + [_battle(w="A")]
    p = _write(tmp_path, rows)
    e = _error(p)
    # DataError (preflab._errors) joins the location parts with spaces
    assert str(e) == (
        f"{p} row 3, field 'winner': 'A' is not one of model_a, model_b, tie, tie_bothbad.\n"
        "Map labels with --winner-map A=model_a,B=model_b, or keep going with "
        "--skip-invalid rejects.jsonl.")
    assert (e.path, e.row, e.field) == (str(p), 3, "winner")


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (_battle(a=""), "model_a", "empty model name"),
        (_battle(b=None), "model_b", "empty model name"),  # type: ignore[arg-type]
        (_battle(a="x", b="x"), "model_b", "'x' is compared with itself"),
        (_battle(w=None), "winner", "'None' is not one of"),  # type: ignore[arg-type]
        (_battle(weight=-1.0), "weight", "weight '-1' is not a finite number >= 0"),
        (_battle(weight=math.nan), "weight", "weight 'nan' is not a finite number"),
        (_battle(weight=None), "weight", "weight 'None' is not a finite number"),
        (_battle(prompt_id=" "), "prompt_id", "empty prompt id"),
    ],
)
def test_each_error_names_row_field_and_fix(tmp_path: Path, bad: dict[str, Any], field: str,
                                            reason: str) -> None:
    rows = [dict(r, weight=1.0) for r in GOOD] + [dict({"weight": 1.0}, **bad)]
    p = _write(tmp_path, rows, "votes.parquet")
    e = _error(p)
    assert e.row == 3 and e.field == field
    assert reason in str(e)
    assert str(e).startswith(f"{p} row 3, field '{field}': ")
    assert e.fix and "--skip-invalid" in e.fix


def test_missing_column(tmp_path: Path) -> None:
    p = _write(tmp_path, [{"model_a": "x", "model_b": "y", "verdict": "model_a"}], "v.csv")
    e = _error(p, source="native")
    assert e.field == "winner" and "missing column 'winner'" in str(e)
    assert "--winner" in (e.fix or "")
    e = _error(p, model_a="model_a", model_b="model_b", winner="outcome")
    assert e.field == "outcome"


def test_undetectable_format(tmp_path: Path) -> None:
    p = _write(tmp_path, [{"left": "x", "right": "y", "vote": "left"}], "v.csv")
    e = _error(p)
    assert "cannot detect the format" in str(e) and "--from" in (e.fix or "")


def test_duplicate_battle_ids(tmp_path: Path) -> None:
    rows = [dict(r, battle_id=i) for i, r in enumerate(GOOD)] + [dict(_battle(), battle_id=1)]
    p = _write(tmp_path, rows, "b.jsonl")
    e = _error(p)
    assert (e.row, e.field) == (3, "battle_id")
    assert "duplicate of row 1" in str(e)


def test_skip_invalid_rejects_with_reasons_and_counts_add_up(tmp_path: Path) -> None:
    rows = [
        _battle(), _battle(w="A"), _battle(a=""), _battle(a="q", b="q"),
        _battle(w="tie (bothbad)"), _battle(weight=-2.0), _battle(w="model_b"),
    ]
    rows = [dict({"weight": 1.0}, **r) for r in rows]
    p = _write(tmp_path, rows, "mixed.jsonl")
    r = read_input(p, strict=False)
    assert r.table.num_rows == 3 and r.rejects.num_rows == 4
    assert r.table.num_rows + r.rejects.num_rows == len(rows) == r.n_input
    rej = r.rejects.to_pylist()
    assert [x["row"] for x in rej] == [1, 2, 3, 5]
    assert [x["field"] for x in rej] == ["winner", "model_a", "model_b", "weight"]
    assert rej[0]["value"] == "A" and "not one of" in rej[0]["reason"]
    assert json.loads(rej[0]["original"]) == rows[1]
    assert all(x["fix"] for x in rej)
    assert r.table.column("winner").to_pylist() == ["model_a", "tie_bothbad", "model_b"]
    # rejects are a table like any other
    write_table(r.rejects, tmp_path / "rejects.jsonl")
    assert len((tmp_path / "rejects.jsonl").read_text().splitlines()) == 4


def test_winner_map_and_prompt_ids_in_columns_format(tmp_path: Path) -> None:
    rows = [{"l": "x", "r": "y", "v": "L", "worker": 3}, {"l": "y", "r": "z", "v": "=",
                                                          "worker": 4},
            {"l": "z", "r": "x", "v": "?", "worker": 5}]
    p = _write(tmp_path, rows, "own.csv")
    with pytest.raises(DataError) as err:
        read_input(p, model_a="l", model_b="r", winner="v", winner_map="L=model_a,R=model_b,==tie")
    assert (err.value.row, err.value.field) == (2, "v") and "'?'" in str(err.value)
    r = read_input(p, model_a="l", model_b="r", winner="v", judge="worker", judge_prefix="human:",
                   winner_map={"L": "model_a", "R": "model_b", "=": "tie"}, strict=False)
    assert r.format == "columns"
    assert r.table.column("winner").to_pylist() == ["model_a", "tie"]
    assert r.table.column("prompt_id").to_pylist() == ["row:0", "row:1"]
    assert r.table.column("judge").to_pylist() == ["human:3", "human:4"]


def test_bad_winner_map_spec(tmp_path: Path) -> None:
    p = _write(tmp_path, GOOD)
    with pytest.raises(DataError, match="has no '='"):
        read_input(p, winner_map="left:model_a")


def test_alpacaeval_preference_values(tmp_path: Path) -> None:
    rows = [{"instruction": f"q{i}", "generator_1": "base", "generator_2": "m", "output_1": "ab",
             "output_2": "**x**\n# h\n- a\n- b", "preference": p}
            for i, p in enumerate([1.0, 1.2, 1.5, 1.8, 2.0, 0.0, 2.5, None])]
    p = _write(tmp_path, rows, "annotations.json")
    e = _error(p)
    assert (e.row, e.field) == (6, "preference") and "'2.5' is not in [1, 2]" in str(e)
    r = read_input(p, strict=False)
    assert r.format == "alpacaeval"
    assert r.table.column("winner").to_pylist() == [
        "model_a", "model_a", "tie", "model_b", "model_b", "tie"]
    assert [x["row"] for x in r.rejects.to_pylist()] == [6, 7]
    t = r.table.to_pylist()[0]
    assert t["prompt_id"].startswith("sha256:")
    assert (t["style_a_tokens"], t["style_b_tokens"]) == (2.0, 17.0)
    assert (t["style_b_headers"], t["style_b_lists"], t["style_b_bold"]) == (1.0, 2.0, 1.0)


def _arena_hard_jsonl(tmp_path: Path, scores: list[list[str | None]]) -> Path:
    rows = [{"question_id": f"q{i}", "model": "m", "judge": "gpt-4-1106-preview",
             "games": [{"score": s, "judgment": "..."} for s in g]}
            for i, g in enumerate(scores)]
    p = tmp_path / "judgment.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows))
    return p


def test_arena_hard_jsonl_two_games(tmp_path: Path) -> None:
    p = _arena_hard_jsonl(tmp_path, [["A>>B", "A>B"], ["B>A", "A=B"], ["B>>A", "B>>A"]])
    r = read_input(p)
    assert r.format == "arena-hard" and r.table.num_rows == 6
    t = r.table.to_pylist()
    # game 1: baseline is A; game 2: the model is A
    assert (t[0]["model_a"], t[0]["model_b"], t[0]["winner"], t[0]["weight"]) == (
        "gpt-4-0314", "m", "model_a", 3.0)
    assert (t[1]["model_a"], t[1]["model_b"], t[1]["winner"], t[1]["weight"]) == (
        "m", "gpt-4-0314", "model_a", 1.0)
    assert t[3]["winner"] == "tie" and t[5]["weight"] == 3.0 and t[5]["winner"] == "model_b"
    assert [x["game"] for x in t] == [1, 2, 1, 2, 1, 2]
    r = read_input(p, baseline="gpt-4-0613")
    assert r.table.column("model_a")[0].as_py() == "gpt-4-0613"


def test_arena_hard_malformed_labels_are_rejected_never_guessed(tmp_path: Path) -> None:
    p = _arena_hard_jsonl(tmp_path, [["A>B", "A>>A"], [None, "B>A"], ["A<B", "A=B"]])
    e = _error(p)
    assert (e.row, e.field) == (0, "games.score") and "'A>>A'" in str(e)
    r = read_input(p, strict=False)
    assert r.table.num_rows == 3 and r.rejects.num_rows == 3 and r.n_input == 6
    assert [x["value"] for x in r.rejects.to_pylist()] == ["A>>A", None, "A<B"]


def test_arena_hard_duplicate_question_model_game(tmp_path: Path) -> None:
    p = _arena_hard_jsonl(tmp_path, [["A>B", "B>A"], ["A>B", "B>A"]])
    text = p.read_text().replace('"q1"', '"q0"')
    p.write_text(text)
    e = _error(p)
    assert (e.row, e.field) == (1, "(question_id, model, game, judge)")
    assert "duplicate of row 0" in str(e)


def test_pairs_missing_text_and_duplicate_ids(tmp_path: Path) -> None:
    rows = [{"id": "a", "prompt": "hi", "chosen": "good", "rejected": "bad"},
            {"id": "b", "prompt": "hi", "chosen": None, "rejected": "bad"},
            {"id": "a", "prompt": "yo", "chosen": "ok", "rejected": "meh"}]
    p = _write(tmp_path, rows, "pairs.jsonl")
    e = _error(p)
    assert (e.row, e.field) == (1, "chosen/rejected") and "missing chosen text" in str(e)
    r = read_input(p, strict=False)
    assert [x["field"] for x in r.rejects.to_pylist()] == ["chosen/rejected", "id"]
    assert r.responses is not None
    assert r.responses.to_pylist() == [
        {"prompt_id": "a", "model": "chosen", "text": "good", "prompt": "hi"},
        {"prompt_id": "a", "model": "rejected", "text": "bad", "prompt": "hi"},
    ]


def test_pairs_chat_messages_and_model_columns(tmp_path: Path) -> None:
    conv = [{"role": "user", "content": "2+2?"}]
    rows = [{"prompt_id": "u1", "chosen": conv + [{"role": "assistant", "content": "4"}],
             "rejected": conv + [{"role": "assistant", "content": "5"}],
             "chosen_model": "m1", "rejected_model": "m2"}]
    p = tmp_path / "uf.jsonl"
    p.write_text(json.dumps(rows[0]))
    r = read_input(p)
    assert r.table.to_pylist()[0]["model_a"] == "m1"
    assert r.responses is not None
    assert [x["text"] for x in r.responses.to_pylist()] == ["4", "5"]
    assert r.responses.to_pylist()[0]["prompt"] == "user: 2+2?"


def test_strict_reports_first_bad_row_in_input_order(tmp_path: Path) -> None:
    rows = GOOD + [_battle(a="x", b="x"), _battle(w="bad")]
    e = _error(_write(tmp_path, rows))
    assert e.row == 3


def test_dictionary_encoded_input_validates_like_plain_text(tmp_path: Path) -> None:
    """The fast path for dictionary-encoded columns gives the same result as plain strings."""
    rows = [_battle(), _battle(a="", b="y"), _battle(a="x", b="x"), _battle(w="A"),
            _battle(a=None), _battle(w=None), _battle(a="z", b="x", w="tie (bothbad)"),  # type: ignore[arg-type]
            _battle(a="y", b="z", w="model_b")]
    plain = pa.Table.from_pylist(rows)
    encoded = plain.set_column(1, "model_a", plain.column("model_a").dictionary_encode())
    encoded = encoded.set_column(2, "model_b", encoded.column("model_b").dictionary_encode())
    encoded = encoded.set_column(3, "winner", encoded.column("winner").dictionary_encode())
    results = []
    for name, table in (("plain.parquet", plain), ("dict.parquet", encoded)):
        p = tmp_path / name
        write_table(table, p)
        r = read_input(p, strict=False, winner_map="x=model_a")
        results.append(r)
    a, b = results
    assert a.table.equals(b.table)
    assert a.table.schema.field("model_a").type == pa.string()
    assert a.rejects.drop(["original"]).equals(b.rejects.drop(["original"]))
    assert [x["field"] for x in a.rejects.to_pylist()] == [
        "model_a", "model_b", "winner", "model_a", "winner"]
    assert a.table.column("winner").to_pylist() == ["model_a", "tie_bothbad", "model_b"]


def test_generated_row_ids() -> None:
    from preflab.data._adapters_base import row_ids

    for n in (0, 1, 9, 10, 11, 99, 100, 101, 1234):
        assert row_ids(n).to_pylist() == [f"row:{i}" for i in range(n)]


def test_uncastable_optional_column_names_the_row(tmp_path: Path) -> None:
    p = tmp_path / "w.csv"
    p.write_text("model_a,model_b,winner,weight\nx,y,model_a,1\ny,z,tie,heavy\n")
    e = _error(p)
    assert (e.row, e.field) == (1, "weight") and "'heavy' cannot be read as double" in str(e)


def test_column_map_does_not_apply_to_fixed_formats(tmp_path: Path) -> None:
    p = tmp_path / "pairs.jsonl"
    p.write_text('{"chosen": "a", "rejected": "b"}\n')
    e = _error(p, source="pairs", model_a="chosen")
    assert e.field == "--from" and "--from columns" in (e.fix or "")


def test_arena_with_renamed_columns(tmp_path: Path) -> None:
    rows = [{"question_id": "q", "m1": "x", "m2": "y", "res": "1", "sum_assistant_a_tokens": 5,
             "sum_assistant_b_tokens": 7}]
    p = _write(tmp_path, rows, "renamed.jsonl")
    r = read_input(p, source="arena", model_a="m1", model_b="m2", winner="res",
                   winner_map="1=model_a,2=model_b")
    assert r.table.to_pylist()[0]["winner"] == "model_a"
    assert r.table.to_pylist()[0]["style_b_tokens"] == 7.0


def test_id_column_must_be_unique(tmp_path: Path) -> None:
    rows = [{"l": "x", "r": "y", "v": "model_a", "vote": 7}, {"l": "y", "r": "z", "v": "tie",
                                                               "vote": 7}]
    p = _write(tmp_path, rows, "ids.csv")
    e = _error(p, model_a="l", model_b="r", winner="v", id_column="vote")
    assert (e.row, e.field) == (1, "vote") and "duplicate of row 0" in str(e)


NAMES = st.sampled_from(["x", "y", "z", "", " ", None])
LABELS = st.sampled_from(["model_a", "model_b", "tie", "tie (bothbad)", "tie_bothbad", "A", None])
WEIGHTS = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=64))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(NAMES, NAMES, LABELS, WEIGHTS), min_size=1, max_size=30),
       st.booleans())
def test_kept_plus_rejected_is_the_input(rows: list[tuple[Any, Any, Any, Any]],
                                         encode: bool) -> None:
    table = pa.table({"model_a": [r[0] for r in rows], "model_b": [r[1] for r in rows],
                      "winner": [r[2] for r in rows],
                      "weight": pa.array([r[3] for r in rows], pa.float64())},
                     schema=pa.schema([("model_a", pa.string()), ("model_b", pa.string()),
                                       ("winner", pa.string()), ("weight", pa.float64())]))
    if encode:
        for i in range(3):
            table = table.set_column(i, table.column_names[i], table.column(i).dictionary_encode())
    r = adapt_table(table, strict=False, source="native")
    assert r.table.num_rows + r.rejects.num_rows == len(rows) == r.n_input
    expected_bad = [
        i for i, (a, b, w, wt) in enumerate(rows)
        if not (a or "").strip() or not (b or "").strip() or a == b
        or w not in ("model_a", "model_b", "tie", "tie (bothbad)", "tie_bothbad")
        or wt is None or math.isnan(wt) or math.isinf(wt) or wt < 0
    ]
    assert r.rejects.column("row").to_pylist() == expected_bad
    kept = r.table.to_pylist()
    assert all(k["winner"] in ("model_a", "model_b", "tie", "tie_bothbad") for k in kept)
    assert all(k["model_a"] != k["model_b"] for k in kept)
    if expected_bad:
        with pytest.raises(DataError) as err:
            adapt_table(table, source="native")
        assert err.value.row == expected_bad[0]


def test_null_ids_are_not_duplicates_of_each_other() -> None:
    t = pa.table({"model_a": ["x", "y", "x", "z"], "model_b": ["y", "z", "z", "x"],
                  "winner": ["tie"] * 4, "battle_id": [None, "b", None, "b"]})
    r = adapt_table(t, strict=False)
    assert r.rejects.select(["row", "field"]).to_pylist() == [{"row": 3, "field": "battle_id"}]


def test_rankings_format(tmp_path: Path) -> None:
    rows = [{"prompt_id": "p1", "models": [["a"], ["b", "c"]], "judge": "human:1"},
            {"prompt_id": "p2", "models": [["a"], ["a"]], "judge": "human:2"},
            {"prompt_id": "p3", "models": [["d"]], "judge": "human:2"},
            {"prompt_id": "p4", "models": [["c"], ["a"]], "judge": "human:3"}]
    p = tmp_path / "kwise.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows))
    e = _error(p)
    assert (e.row, e.field) == (1, "models") and "a model appears twice" in str(e)
    r = read_input(p, strict=False)
    assert r.format == "rankings"
    got = [(x["prompt_id"], x["model_a"], x["model_b"], x["winner"]) for x in r.table.to_pylist()]
    assert got == [("p1", "a", "b", "model_a"), ("p1", "a", "c", "model_a"),
                   ("p1", "b", "c", "tie"), ("p4", "c", "a", "model_a")]
    assert [x["row"] for x in r.rejects.to_pylist()] == [1, 2]
    assert r.table.num_rows + r.rejects.num_rows == r.n_input
