"""Matchmaking is a pure function: valid picks, active sampling favours informative pairs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preflab.arena import choose_models, pair_weights


@settings(max_examples=60, deadline=None)
@given(m=st.integers(2, 9), density=st.floats(0.0, 1.0), k=st.sampled_from([2, 3, 4]),
       mode=st.sampled_from(["uniform", "active"]), seed=st.integers(0, 2**31))
def test_picks_are_available_and_distinct(m: int, density: float, k: int, mode: str,
                                          seed: int) -> None:
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.random((m, m)) < density, 1)
    available = upper | upper.T
    scores = rng.normal(0, 1, m)
    se = rng.uniform(0.1, 2, m)
    games = rng.integers(0, 20, (m, m)).astype(float)
    games = games + games.T
    pick = choose_models(available, k=k, mode=mode, scores=scores, se=se, games=games, rng=seed)
    if not available.any():
        assert pick is None
        return
    if pick is None:  # only possible when no k-clique exists
        assert k > 2
        return
    assert len(pick) == k and len(set(pick)) == k
    for a in pick:
        for b in pick:
            if a != b:
                assert available[a, b]


def test_nothing_available() -> None:
    assert choose_models(np.zeros((3, 3), dtype=bool), rng=0) is None


def test_active_prefers_close_uncertain_pairs() -> None:
    m = 4
    available = ~np.eye(m, dtype=bool)
    scores = np.array([0.0, 0.1, 4.0, 8.0])  # 0 and 1 are close; the rest far apart
    se = np.full(m, 0.3)
    games = np.zeros((m, m))
    n = 3000
    rng = np.random.default_rng(0)
    active = Counter(frozenset(choose_models(available, mode="active", scores=scores, se=se,
                                             games=games, explore=0.1, rng=rng) or ())
                     for _ in range(n))
    uniform = Counter(frozenset(choose_models(available, mode="uniform", rng=rng) or ())
                      for _ in range(n))
    close = frozenset((0, 1))
    assert active[close] / n > 0.8
    assert uniform[close] / n == pytest.approx(1 / 6, abs=0.03)


def test_optional_damping_by_games() -> None:
    scores = np.zeros(3)
    se = np.ones(3)
    games = np.array([[0, 100, 0], [100, 0, 100], [0, 100, 0]], dtype=float)
    assert np.allclose(pair_weights(scores, se, games), pair_weights(scores, se, games * 0))
    w = pair_weights(scores, se, games, damping=1.0)
    assert w[0, 2] > 50 * w[0, 1]
    assert np.allclose(w, w.T) and np.all(np.diag(w) == 0)


def test_display_order_is_shuffled() -> None:
    available = ~np.eye(2, dtype=bool)
    firsts = Counter(choose_models(available, mode="uniform", rng=s)[0]  # type: ignore[index]
                     for s in range(400))
    assert 150 < firsts[0] < 250


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="mode"):
        choose_models(np.ones((2, 2), dtype=bool), mode="elo")
