"""Plackett–Luce against choix (0.4.1) on the same votes, and its properties."""

from __future__ import annotations

import choix
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preflab._errors import DataError, ModelError
from preflab.rank._plackett_luce import (
    fit_plackett_luce,
    pl_mle,
    ranking_data,
    rankings_to_comparisons,
)
from preflab.rank._sandwich import bt_newton, table_counts


def sample_votes(rng: np.random.Generator, s: np.ndarray, n_votes: int, k: int) -> list[list[int]]:
    """Plackett–Luce votes by the Gumbel trick: sort strengths plus Gumbel noise."""
    votes = []
    for _ in range(n_votes):
        items = rng.choice(len(s), k, replace=False)
        votes.append(list(items[np.argsort(-(s[items] + rng.gumbel(size=k)))]))
    return votes


def as_table(votes: list[list[int]]) -> pa.Table:
    return pa.table({"prompt_id": [str(i) for i in range(len(votes))],
                     "models": [[[f"m{x:02d}"] for x in v] for v in votes]})


@pytest.mark.parametrize("k", [3, 4, 6])
def test_equals_choix_on_strict_rankings(k: int) -> None:
    rng = np.random.default_rng(k)
    n = 15
    votes = sample_votes(rng, rng.normal(0, 1, n), 1500, k)
    d = ranking_data(as_table(votes))
    assert d.models == tuple(f"m{i:02d}" for i in range(n))
    data = [tuple(v) for v in votes]
    ref_mm = choix.mm_rankings(n, data, tol=1e-12)
    ref_ilsr = choix.ilsr_rankings(n, data, tol=1e-12)
    for method, ref in (("mm", ref_mm), ("spectral", ref_ilsr)):
        est = pl_mle(d, method=method)
        np.testing.assert_allclose(est, ref - ref.mean(), atol=1e-4)
    r = fit_plackett_luce(as_table(votes), scale="logit")
    np.testing.assert_allclose(r.rating, ref_ilsr - ref_ilsr.mean(), atol=1e-4)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_models=st.integers(3, 6))
def test_k2_ranking_is_a_pairwise_battle(seed: int, n_models: int) -> None:
    rng = np.random.default_rng(seed)
    votes = sample_votes(rng, rng.normal(0, 1, n_models), 300, 2)
    t = as_table(votes)
    names = [[f"m{x:02d}" for x in v] for v in votes]
    battles = pa.table({"model_a": [v[0] for v in names], "model_b": [v[1] for v in names],
                        "winner": ["model_a"] * len(votes)})
    c = table_counts(battles)
    try:
        bt = bt_newton(c.matchups, c.outcomes, c.weights, len(c.models))
    except ModelError:
        with pytest.raises(ModelError):
            fit_plackett_luce(t)
        return
    pl = pl_mle(ranking_data(t), method="spectral")
    np.testing.assert_allclose(pl, bt, atol=1e-7)


def test_breslow_tie_counts_a_win_each_way() -> None:
    """A K=2 tie under Breslow equals BT with the tie scored 1/2 and weight 2."""
    rng = np.random.default_rng(7)
    votes = sample_votes(rng, rng.normal(0, 1, 4), 400, 2)
    groups: list[list[list[str]]] = [[[f"m{v[0]:02d}"], [f"m{v[1]:02d}"]] for v in votes]
    for i in range(0, 400, 5):  # every fifth vote a tie
        groups[i] = [[f"m{votes[i][0]:02d}", f"m{votes[i][1]:02d}"]]
    t = pa.table({"models": groups})
    pl = fit_plackett_luce(t, scale="logit")
    ma = [g[0][0] for g in groups]
    mb = [g[1][0] if len(g) == 2 else g[0][1] for g in groups]
    tie = [len(g) == 1 for g in groups]
    battles = pa.table({"model_a": ma, "model_b": mb,
                        "winner": ["tie" if x else "model_a" for x in tie],
                        "weight": [2.0 if x else 1.0 for x in tie]})
    c = table_counts(battles)
    bt = bt_newton(c.matchups, c.outcomes, c.weights, len(c.models))
    np.testing.assert_allclose(pl.rating, bt, atol=1e-7)
    np.testing.assert_allclose(fit_plackett_luce(t, method="spectral", scale="logit").rating,
                               bt, atol=1e-7)


def test_bootstrap_intervals_cover_truth() -> None:
    rng = np.random.default_rng(11)
    s = rng.normal(0, 0.7, 6)
    truth = (s - s.mean()) * 400 / np.log(10) + 1000
    hits = []
    for rep in range(30):
        t = as_table(sample_votes(rng, s, 300, 4))
        r = fit_plackett_luce(t, method="spectral", n_bootstrap=100, rng=rep)
        assert r.ci is not None and r.rank_ci is not None
        hits.append((r.ci[:, 0] <= truth) & (truth <= r.ci[:, 1]))
    assert 0.87 <= np.mean(hits) <= 0.995


def test_expansion_to_pairs() -> None:
    t = pa.table({"prompt_id": ["p1", "p2"], "judge": ["human:1", "human:2"],
                  "models": [[["a"], ["b", "c"], ["d"]], [["b"], ["a"]]]})
    pairs = rankings_to_comparisons(t)
    assert len(pairs) == 6 + 1
    rows = pairs.to_pylist()
    assert {"prompt_id": "p1", "model_a": "b", "model_b": "c", "winner": "tie",
            "judge": "human:1", "weight": 1.0} in rows
    assert sum(r["winner"] == "model_a" for r in rows) == 6
    votes = rankings_to_comparisons(t, weighting="vote")
    w = np.array(votes.column("weight").to_pylist())
    assert w[:6].sum() == pytest.approx(1.0) and w[6] == pytest.approx(1.0)
    with pytest.raises(ModelError):
        rankings_to_comparisons(t, weighting="edges")


def test_errors() -> None:
    with pytest.raises(DataError, match="twice"):
        ranking_data(pa.table({"models": [[["a"], ["b"]], [["a"], ["a"]]]}))
    with pytest.raises(DataError, match="empty group"):
        ranking_data(pa.table({"models": [[["a"], []]]}))
    with pytest.raises(ModelError, match="diverges"):
        fit_plackett_luce(pa.table({"models": [[["a"], ["b"]], [["a"], ["c"]], [["c"], ["b"]]]}))
    with pytest.raises(ModelError, match="breslow"):
        fit_plackett_luce(pa.table({"models": [[["a"], ["b"]]]}), ties="efron")
    with pytest.raises(ModelError, match="method"):
        pl_mle(ranking_data(pa.table({"models": [[["a"], ["b"]], [["b"], ["a"]]]})),
               method="newton")
