"""BenchBuilder criteria parser on real-looking and malformed judge replies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preflab.bench import CRITERIA, QUALITY_PARSER, QUALITY_TEMPLATE, parse_criteria
from preflab.bench._quality import parse_criteria_set
from preflab.judge import PARSERS, JudgeConfig, get_parser

REAL = [
    ("[1, 2, 3, 4, 6, 7]", {1, 2, 3, 4, 6, 7}),  # the released format: a bare Python array
    ("Criteria Satisfied: [1, 2, 4, 6, 7]", {1, 2, 4, 6, 7}),  # the paper's example
    ("[1, 3, 4, 5, 6, 7]\n", {1, 3, 4, 5, 6, 7}),
    ("**Criteria Satisfied:** [2, 6]", {2, 6}),
    ("```python\n[1, 2, 3]\n```", {1, 2, 3}),
    ("[]", set()),
    ("Criteria Satisfied: []", set()),
    ("[1,2,2,3]", {1, 2, 3}),  # repeats count once
    ("[7, 1]", {1, 7}),
    ("The prompt asks for code [see above]. Criteria Satisfied: [1, 4]", {1, 4}),  # word list
    ("Criteria satisfied: 1, 2, 4", {1, 2, 4}),  # no brackets
    ("Criteria Satisfied: [1, 2, 3", {1, 2, 3}),  # unclosed bracket
    ("[1, 2, 4]\nCriteria Satisfied: [1, 2, 4]", {1, 2, 4}),  # the same list twice
    ("['1', '3']", {1, 3}),
]

MALFORMED = [
    "",
    "This prompt is hard and specific.",
    "[1, 2] ... on reflection [1, 2, 3]",  # two different lists: never guess
    "[1, 2, 8]",  # out of range
    "[0, 1]",
    "[1.5, 2]",
    "[specificity, creativity]",  # names instead of numbers
    "[-1]",
    "Criteria Satisfied: none",
    "[1, two, 3]",
]


@pytest.mark.parametrize(("reply", "expected"), REAL)
def test_real_replies_parse(reply: str, expected: set[int]) -> None:
    assert parse_criteria_set(reply) == frozenset(expected)
    v = parse_criteria(reply)
    assert v.status == "ok" and v.score == float(len(expected)) and v.raw == reply


@pytest.mark.parametrize("reply", MALFORMED)
def test_malformed_replies_stay_unparsed(reply: str) -> None:
    v = parse_criteria(reply)
    assert v.status == "unparsed" and v.score is None and v.raw == reply


@given(st.sets(st.integers(1, 7)), st.sampled_from(["{}", "Criteria Satisfied: {}",
                                                     "**Answer**: {}\n"]))
def test_any_list_of_criteria_round_trips(crit: set[int], fmt: str) -> None:
    reply = fmt.format(sorted(crit))
    assert parse_criteria_set(reply) == frozenset(crit)


def test_parser_is_registered_with_the_judge_package() -> None:
    assert PARSERS[QUALITY_PARSER] is parse_criteria
    assert get_parser(QUALITY_PARSER) is parse_criteria
    judge = JudgeConfig(model="m", template=QUALITY_TEMPLATE, parser=QUALITY_PARSER)
    assert judge.parse("[1]").score == 1.0
    msgs = QUALITY_TEMPLATE.render(prompt="Sort {x} in C", response="")
    assert "Sort {x} in C" in msgs[-1]["content"]  # braces in prompts pass through
    assert all(str(k + 1) + "." in msgs[0]["content"] for k in range(len(CRITERIA)))


def test_several_samples_vote_per_criterion() -> None:
    from preflab.bench._quality import _combine

    assert _combine("[1, 2]\n---\n[2, 3]\n---\n[2, 3, 7]", 3) == frozenset({2, 3})
    assert _combine("[1, 2]\n---\nno idea\n---\n[1]", 3) == frozenset({1})  # 2 parsed: 1 of 2
    assert _combine("no\n---\nidea", 2) is None
    assert _combine("[1, 2]", 1) == frozenset({1, 2})
