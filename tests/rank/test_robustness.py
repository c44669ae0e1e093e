"""Fragility (verified by refit, minimal on a brute-forced case), voter influence, power."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pyarrow as pa
import pytest

from preflab._errors import DataError, ModelError
from preflab.rank._robustness import fragility, power, voter_influence
from preflab.rank._sandwich import BTCounts, bt_newton, table_counts

LAB = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5}


def battles(rng: np.random.Generator, s: np.ndarray, n: int) -> pa.Table:
    m = len(s)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    p = 1 / (1 + np.exp(-(s[a] - s[b])))
    u = rng.random(n)
    win = np.where(u < p - 0.05, "model_a", np.where(u < p + 0.05, "tie", "model_b"))
    names = np.array([f"m{i}" for i in range(m)])
    return pa.table({"prompt_id": [str(i) for i in range(n)], "model_a": names[a],
                     "model_b": names[b], "winner": win,
                     "judge": [f"v{i % 40}" for i in range(n)]})


def remove(c: BTCounts, removed: tuple[tuple[str, str, str, int], ...]) -> np.ndarray:
    w = c.weights.copy()
    for a, b, win, k in removed:
        hit = [i for i in range(len(w)) if c.models[c.matchups[i, 0]] == a
               and c.models[c.matchups[i, 1]] == b and c.outcomes[i] == LAB[win]]
        assert len(hit) == 1 and w[hit[0]] >= k
        w[hit[0]] -= k
    return w


def test_fragility_is_verified_by_refit() -> None:
    rng = np.random.default_rng(0)
    t = battles(rng, np.array([0.3, 0.2, 0.0, -0.3, -0.8]), 3000)
    res = fragility(t)
    assert res.verified and res.gap_before > 0 > res.gap_after
    c = table_counts(t)
    w = remove(c, res.removed)
    keep = w > 0
    s = bt_newton(c.matchups[keep], c.outcomes[keep], w[keep], len(c.models))
    assert s[c.models.index(res.model_a)] < s[c.models.index(res.model_b)]
    assert res.n_removed == sum(r[3] for r in res.removed)
    assert 0 < res.share < 0.5
    pair = fragility(t, "m3", "m1")  # explains the current order m1 > m3
    assert (pair.model_a, pair.model_b) == ("m1", "m3") and pair.verified
    assert pair.n_removed > res.n_removed or pair.gap_before > res.gap_before


def test_fragility_is_minimal_on_a_small_case() -> None:
    """Brute force over every way to remove k battles (k = 1, 2, ...) on a tiny board."""
    rows = ([("x", "y", "model_a")] * 7 + [("y", "x", "model_a")] * 5 + [("x", "z", "model_a")] * 4
            + [("z", "x", "model_a")] * 2 + [("y", "z", "model_a")] * 5
            + [("z", "y", "model_a")] * 2)
    t = pa.table({"model_a": [r[0] for r in rows], "model_b": [r[1] for r in rows],
                  "winner": [r[2] for r in rows]})
    res = fragility(t, "x", "y")
    assert res.verified
    c = table_counts(t)
    ix, iy = c.models.index("x"), c.models.index("y")
    cells = [k for k in range(len(c.weights)) for _ in range(int(c.weights[k]))]
    best = None
    for k in range(1, res.n_removed + 1):
        for combo in set(itertools.combinations(cells, k)):
            w = c.weights.copy()
            for cell in combo:
                w[cell] -= 1
            keep = w > 0
            try:
                s = bt_newton(c.matchups[keep], c.outcomes[keep], w[keep], 3)
            except ModelError:
                continue
            if s[ix] < s[iy]:
                best = k
                break
        if best is not None:
            break
    assert best is not None and res.n_removed == best


def test_voter_influence_finds_a_planted_voter() -> None:
    rng = np.random.default_rng(1)
    t = battles(rng, np.array([0.5, 0.2, 0.0, -0.4]), 4000)
    # a planted voter who always picks m3 (the weakest) against m0
    n = 150
    plant = pa.table({"prompt_id": [f"p{i}" for i in range(n)], "model_a": ["m3"] * n,
                      "model_b": ["m0"] * n, "winner": ["model_a"] * n,
                      "judge": ["troll"] * n})
    out = voter_influence(pa.concat_tables([t, plant]), verify=5)
    assert out.column("voter")[0].as_py() == "troll"
    approx = np.array(out.column("max_shift").to_pylist()[:5])
    exact = np.array(out.column("exact_max_shift").to_pylist()[:5], dtype=float)
    np.testing.assert_allclose(approx, exact, rtol=0.25)
    with pytest.raises(DataError, match="no column"):
        voter_influence(t, by="voter")


def test_power_matches_simulated_separation() -> None:
    """Two models, 60 of 100 wins: after N more direct votes, ~80% of boards separate them."""
    t = pa.table({"model_a": ["a"] * 100, "model_b": ["b"] * 100,
                  "winner": ["model_a"] * 60 + ["model_b"] * 40})
    res = power(t, "a", "b", level=0.95, power=0.8)
    assert res.gap > 0 and res.z == pytest.approx(math.log(1.5) / (res.se * math.log(10) / 400))
    total = 100 + int(res.votes_needed)
    rng = np.random.default_rng(2)
    wins = rng.binomial(total, 0.6, 4000)
    d = np.log(wins / (total - wins))
    se = np.sqrt(1 / wins + 1 / (total - wins))
    separated = np.mean(d / se > 1.959964)
    assert 0.75 < separated < 0.85
    prop = power(t, "a", "b", design="proportional")
    assert prop.votes_needed == pytest.approx(res.votes_needed, rel=0.02)


def test_power_edge_cases() -> None:
    rng = np.random.default_rng(3)
    t = battles(rng, np.array([1.5, 0.0, -1.5]), 5000)
    assert power(t, "m0", "m2").votes_needed == 0
    tied = pa.table({"model_a": ["a", "b"], "model_b": ["b", "a"],
                     "winner": ["model_a", "model_a"]})
    assert math.isinf(power(tied, "a", "b").votes_needed)
    assert power(t, "m0", "m1", power=0.9).votes_needed >= power(t, "m0", "m1").votes_needed
    with pytest.raises(DataError, match="not in the data"):
        power(t, "m0", "gpt-5")
    with pytest.raises(ModelError, match="design"):
        power(t, "m0", "m1", design="adaptive")
