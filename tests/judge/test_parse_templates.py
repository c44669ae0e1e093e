"""Parsers, templates and judge files."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

import preflab.judge as pj
from preflab._errors import DataError
from preflab.judge import (
    BUILTIN_TEMPLATES,
    Verdict,
    aggregate,
    get_parser,
    load_judge,
    load_template,
    parse_arena_hard,
    parse_prometheus,
    score_parser,
)


def test_all_exported() -> None:
    for name in pj.__all__:
        assert hasattr(pj, name)


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        ("... My final verdict is: [[A>>B]]", "A>>B"),
        ("[[B>A]] and again [[B>A]]", "B>A"),
        ("tie: [[A=B]]", "A=B"),
        ("[[A<B]]", "B>A"),
        ("[[A>B]] ... actually [[B>A]]", None),
        ("A is better", None),
        ("[[C>D]]", None),
    ],
)
def test_arena_hard_parser(reply: str, label: str | None) -> None:
    v = parse_arena_hard(reply)
    assert v.label == label
    assert v.status == ("ok" if label else "unparsed") and v.raw == reply


def test_score_parsers() -> None:
    strict = score_parser(0, 4, strict=True)
    lenient = score_parser(0, 4)
    assert strict("3").score == 3.0 and strict(" 4\n").score == 4.0
    assert strict("Score: 3").status == "unparsed"
    assert lenient("Score: 3").score == 3.0
    assert lenient("3 - The code is mostly right").score == 3.0
    assert lenient("I'd give it 2/4.").score == 2.0
    assert (
        lenient("1. Read it.\n2. Check it.\n3. The usefulness score for this code is 3.").score
        == 3.0
    )
    assert lenient("1. Steps... it is hard to say.\n\nUsefulness: N/A").status == "unparsed"
    assert lenient("2 (the code only returns 0)").score == 2.0
    assert lenient("Step 1... The final score is 1 out of 4").score == 1.0
    assert lenient("7").status == "unparsed"  # out of range
    assert lenient("The code looks fine.").status == "unparsed"
    assert lenient("first score: 1, on reflection the final score: 3").score == 3.0  # last wins
    assert parse_prometheus("Feedback: good. [RESULT] 4").score == 4.0
    assert parse_prometheus("Feedback: good.").status == "unparsed"
    assert get_parser("regex:Rating: (\\d)")("Rating: 7").score == 7.0


@given(st.lists(st.sampled_from(pj.PAIRWISE_LABELS), min_size=1, max_size=7))
def test_aggregate_majority_is_a_mode(labels: list[str]) -> None:
    vs = [Verdict("ok", lab, label=lab, score=pj.PAIRWISE_VALUE[lab]) for lab in labels]
    out = aggregate(vs, "majority")
    assert out.status == "ok" and out.label in pj.PAIRWISE_LABELS
    counts = {lab: labels.count(lab) for lab in labels}
    top = max(counts.values())
    if list(counts.values()).count(top) == 1:
        assert counts[out.label or ""] == top


def test_aggregate_rules() -> None:
    s = [Verdict("ok", str(x), score=float(x)) for x in (1, 2, 2, 4)]
    assert aggregate(s, "majority").score == 2.0
    assert aggregate(s, "mean").score == pytest.approx(2.25)
    un = [Verdict("unparsed", "?"), Verdict("ok", "3", score=3.0)]
    assert aggregate(un).score == 3.0
    assert aggregate([Verdict("unparsed", "?")] * 2).status == "unparsed"


def test_builtin_templates() -> None:
    for aspect in ("usefulness", "correctness"):
        for ref in ("", "-ref"):
            for steps in ("", "-steps"):
                t = BUILTIN_TEMPLATES[f"ice-{aspect}{ref}{steps}"]
                assert t.kind == "pointwise" and t.needs_reference == bool(ref)
                text = t.render(prompt="P", response="R", reference="REF")[-1]["content"]
                assert ("Step-by-step Evaluation:" in text) == bool(steps)
                assert ("Reference Code:" in text) == bool(ref)
                assert "0-4" in text or "0 to 4" in text
    ah = BUILTIN_TEMPLATES["arena-hard"]
    msgs = ah.render(prompt="x {not_a_field} {}", response_a="a", response_b="b")
    assert "{not_a_field} {}" in msgs[1]["content"] and "[[A>>B]]" in msgs[0]["content"]
    assert BUILTIN_TEMPLATES["prometheus"].parser == "prometheus"


def test_user_template_and_judge_files(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(
        'name = "mine"\nkind = "pointwise"\nparser = "score-1-10"\naspect = "humour"\n'
        'user = """Rate 1-10: {prompt} => {response}"""\n'
    )
    (tmp_path / "j.toml").write_text(
        'model = "m"\nbase_url = "http://127.0.0.1:1/v1"\napi_key_env = ""\n'
        'template = "mine.toml"\nprice_input = 2.5\nn_samples = 3\n'
    )
    j = load_judge(tmp_path / "j.toml")
    assert j.template.name == "mine" and j.template.aspect == "humour" and j.n_samples == 3
    assert j.api_key() is None and j.cost(1_000_000, 0) == 2.5
    assert j.parse("8").score == 8.0
    (tmp_path / "bad.toml").write_text('model = "m"\ntemperatur = 0.2\n')
    with pytest.raises(DataError, match="temperatur"):
        load_judge(tmp_path / "bad.toml")
    (tmp_path / "t2.toml").write_text('kind = "pairwise"\nuser = "{prompt} {response_a}"\n')
    with pytest.raises(DataError, match="response_b"):
        load_template(tmp_path / "t2.toml")
    with pytest.raises(DataError, match="neither built in"):
        load_template("no-such-template")


def test_ice_raw_replies_that_ice_turned_into_zero_stay_unparsed(shared_data: Path) -> None:
    """ICE-Score published 0 for every HumanEval reply that is not a bare integer (215 / 85)."""
    t = pq.read_table(
        shared_data / "ice-score" / "humaneval_samples.parquet",
        columns=["raw_gpt35_nsnr", "gpt35_nsnr", "raw_gpt35_nswr", "gpt35_nswr"],
    )
    strict = score_parser(0, 4, strict=True)
    lenient = score_parser(0, 4)
    for variant, expected in (("nsnr", 215), ("nswr", 85)):
        raws = t.column(f"raw_gpt35_{variant}").to_pylist()
        published = t.column(f"gpt35_{variant}").to_pylist()
        vs = [strict(r) for r in raws]
        unparsed = [i for i, v in enumerate(vs) if v.status == "unparsed"]
        assert len(unparsed) == expected
        assert all(published[i] == 0 for i in unparsed)  # ICE's parser made them 0
        # where both parse, they agree
        assert all(v.score == published[i] for i, v in enumerate(vs) if v.status == "ok")
        # the lenient parser recovers "Score: 3" and "3 - ..." and never invents a 0
        rec = [lenient(raws[i]) for i in unparsed]
        for r, v in zip([raws[i] for i in unparsed], rec, strict=True):
            if v.status == "ok" and v.score == 0:
                assert "0" in r
        assert sum(v.status == "ok" for v in rec) > expected // 2


def test_ice_conala_step_by_step_replies(shared_data: Path) -> None:
    """CoNaLa replies (4 prompt variants): where ICE-Score's published score and ours both
    exist they agree (ICE's few misreads aside); replies without a score stay unparsed."""
    t = pq.read_table(
        shared_data / "ice-score" / "conala_gpt35_judgments.parquet",
        columns=["variant", "raw_output", "score"],
    ).to_pylist()
    parse = score_parser(0, 4)
    for variant in ("nsnr", "nswr", "wsnr", "wswr"):
        rows = [r for r in t if r["variant"] == variant]
        vs = [parse(r["raw_output"]) for r in rows]
        unparsed = [r for r, v in zip(rows, vs, strict=True) if v.status == "unparsed"]
        assert len(unparsed) <= 4
        assert all(r["score"] == 0 for r in unparsed)  # ICE made them 0; we keep them apart
        agree = sum(
            v.score == r["score"] for r, v in zip(rows, vs, strict=True) if v.status == "ok"
        )
        assert agree >= len(rows) - len(unparsed) - 3
