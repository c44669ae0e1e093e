"""Exact and near-duplicate removal: normalisation, verified Jaccard, agreement with brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preflab.bench import deduplicate, normalize_text
from preflab.bench._dedup import jaccard, shingles

BASE = [
    "Write a Python function that merges two sorted lists into one sorted list in linear time.",
    "Explain the difference between TCP and UDP, with an example where each is the better choice.",
    "Give me a 4-day training plan for a first half marathon; I run 20 km a week now.",
    "What is the derivative of x^x? Show each step.",
]


def test_exact_duplicates_after_normalisation() -> None:
    texts = [*BASE, "  WRITE a python function that merges two sorted lists into one sorted "
                    "list   in linear time.\n", BASE[1]]
    d = deduplicate(texts, near=False)
    assert d.keep.tolist() == [True] * 4 + [False, False]
    assert d.kind[4:] == ("exact", "exact") and d.duplicate_of[4:].tolist() == [0, 1]
    assert d.n_exact == 2 and d.n_near == 0
    assert normalize_text("ＡＢＣ\u00a0 d") == "abc d"  # NFKC and whitespace


def test_near_duplicates_are_verified_and_point_to_the_earlier_prompt() -> None:
    near = BASE[0].replace("linear time", "linear time please")
    far = BASE[0].replace("merges two sorted lists into one sorted list", "reverses a string")
    d = deduplicate([*BASE, near, far], threshold=0.8)
    assert d.kind[4] == "near" and d.duplicate_of[4] == 0
    s = jaccard(shingles(normalize_text(near)), shingles(normalize_text(BASE[0])))
    assert d.similarity[4] == pytest.approx(s) and s >= 0.8
    assert d.keep[5] and d.kind[5] == ""  # below the threshold: kept
    assert deduplicate([*BASE, near], near=False).keep.all()


def _brute(texts: list[str], t: float) -> list[int]:
    sh = [shingles(normalize_text(x)) for x in texts]
    kept: list[int] = []
    removed = []
    seen: set[str] = set()
    for i, x in enumerate(texts):
        n = normalize_text(x)
        if n in seen:
            removed.append(i)
            continue
        seen.add(n)
        if any(jaccard(sh[i], sh[j]) >= t for j in kept):
            removed.append(i)
        else:
            kept.append(i)
    return removed


def test_lsh_finds_the_same_duplicates_as_all_pairs() -> None:
    gen = np.random.default_rng(3)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi".split()
    texts = [" ".join(gen.choice(words, 40)) for _ in range(60)]
    for _ in range(60):  # mutated copies: a few word edits
        src = list(texts[int(gen.integers(0, 60))].split())
        for _ in range(int(gen.integers(0, 6))):
            src[int(gen.integers(0, len(src)))] = str(gen.choice(words))
        texts.append(" ".join(src))
    d = deduplicate(texts, threshold=0.7)
    assert sorted(np.flatnonzero(~d.keep).tolist()) == _brute(texts, 0.7)
    removed = np.flatnonzero(~d.keep)
    assert d.keep[d.duplicate_of[removed]].all()  # always points at a kept prompt
    assert (d.duplicate_of[removed] < removed).all()


def test_short_and_empty_texts() -> None:
    d = deduplicate(["hi", "Hi", "ok", "a"])
    assert d.keep.tolist() == [True, False, True, True]
    with pytest.raises(ValueError):
        deduplicate(["a"], threshold=0.0)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.text(alphabet="ab c", min_size=0, max_size=30), min_size=1, max_size=25),
       st.sampled_from([0.5, 0.8, 1.0]))
def test_properties(texts: list[str], t: float) -> None:
    d = deduplicate(texts, threshold=t)
    kept = np.flatnonzero(d.keep)
    removed = np.flatnonzero(~d.keep)
    assert len(kept) + len(removed) == len(texts) and d.keep[0]
    assert d.keep[d.duplicate_of[removed]].all() and (d.duplicate_of[removed] < removed).all()
    assert (d.duplicate_of[kept] == -1).all()
    assert len({normalize_text(texts[i]) for i in kept}) == len(kept)
    sh = {i: shingles(normalize_text(texts[i])) for i in kept}
    for a in kept:  # no two kept prompts are near duplicates (the LSH missed nothing)
        for b in kept[kept > a]:
            assert jaccard(sh[a], sh[b]) < t
    assert sorted(removed.tolist()) == _brute(texts, t)
