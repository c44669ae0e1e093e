"""Bradley–Terry: exactness against choix and FastChat, ties, anchors, priors, errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import minimize

from preflab import ModelError
from preflab.rank import PairCounts, bt_mle, counts_from_arrays, fit_bradley_terry, pair_counts
from preflab.testing import simulate_bt


@pytest.mark.parametrize("size", ["10k", "100k"])
def test_equals_exact_optimum_and_fastchat(shared_data, size):
    # choix's ilsr_pairwise output is exact to 1e-8 (README of fastchat-reference, 2025-04).
    ref = shared_data / "fastchat-reference"
    ratings = fit_bradley_terry(pq.read_table(ref / f"battles_{size}.parquet"))
    exact = json.loads((ref / f"choix_ilsr_{size}.json").read_text())["ratings"]
    fastchat = json.loads((ref / f"fastchat_mle_{size}.json").read_text())["ratings"]
    assert set(exact) == set(ratings.models)
    assert max(abs(ratings[m] - exact[m]) for m in exact) < 0.01
    # FastChat's compute_bt stops early: 0.19 (10k) / 0.10 (100k) from the optimum.
    assert max(abs(ratings[m] - fastchat[m]) for m in fastchat) < 0.25
    assert abs(np.mean(ratings.rating) - 1000.0) < 1e-9  # centred like FastChat


def test_llmfao_human_leaderboard(shared_data):
    """Published LLMFAO human board: BT with ties as half, scores normalised to sum to 1."""
    votes = pq.read_table(shared_data / "llmfao" / "crowd_votes.parquet")
    label = {"left": "model_a", "right": "model_b", "tie": "tie"}
    table = pa.table({
        "model_a": votes.column("left").cast(pa.string()),
        "model_b": votes.column("right").cast(pa.string()),
        "winner": [label[w] for w in votes.column("winner").to_pylist()],
    })
    r = fit_bradley_terry(table, scale="logit")
    strength = np.exp(r.rating)
    score = dict(zip(r.models, strength / strength.sum()))
    rank = {m: i + 1 for i, m in enumerate(sorted(score, key=score.get, reverse=True))}
    with open(shared_data / "llmfao" / "reference_5_models.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5
    for row in rows:
        # Evalica's MM iterations stop at a tolerance: the exact optimum differs by ~1e-4
        # relative (GPT 4: 0.041218 exact vs 0.041215 published).
        assert score[row["model"]] == pytest.approx(float(row["score"]), rel=2e-4)
        assert rank[row["model"]] == int(row["rank"])


def test_bt_mle_matches_generic_optimizer():
    rng = np.random.default_rng(1)
    table = simulate_bt(rng.normal(0, 1, 6), 400, rng=rng, tie_rate=0.2)
    c = pair_counts(table)
    s = bt_mle(c.matchups, c.outcomes, c.weights, c.n_models)

    def negll(x):
        d = x[c.matchups[:, 0]] - x[c.matchups[:, 1]]
        return np.sum(c.weights * (c.outcomes * np.logaddexp(0, -d)
                                   + (1 - c.outcomes) * np.logaddexp(0, d)))

    ref = minimize(negll, np.zeros(6), method="BFGS", options={"gtol": 1e-10}).x
    assert_allclose(s, ref - ref.mean(), atol=1e-6)
    assert abs(s.sum()) < 1e-12


def test_ties_half_counts_half_a_win():
    # one tie between a and b equals one win each way
    t1 = counts_from_arrays(["a", "a", "b"], ["b", "c", "c"], ["tie", "model_a", "model_a"])
    t2 = counts_from_arrays(["a", "b", "a", "b", "a", "a", "b", "b"],
                            ["b", "a", "c", "c", "c", "c", "c", "c"],
                            ["model_a", "model_a", "model_a", "model_a",
                             "model_a", "model_b", "model_a", "model_b"])
    r1 = fit_bradley_terry(t1, prior=0.1)
    assert r1["a"] == pytest.approx(r1["b"], abs=1e-9)
    r2 = fit_bradley_terry(t2)
    assert r2["a"] == pytest.approx(r2["b"], abs=1e-9)


def test_drop_ties_ignores_ties():
    base = simulate_bt(np.array([0.0, 0.5, 1.0]), 300, rng=3)
    ties = pa.table({"model_a": ["m000"] * 50, "model_b": ["m002"] * 50, "winner": ["tie"] * 50})
    both = pa.concat_tables([base.select(["model_a", "model_b", "winner"]), ties])
    assert_allclose(fit_bradley_terry(both, ties="drop").rating,
                    fit_bradley_terry(base, ties="drop").rating, atol=1e-9)


def test_davidson_recovers_truth_and_matches_generic_optimizer():
    rng = np.random.default_rng(7)
    s_true = np.array([-0.8, 0.0, 0.3, 0.9])
    nu_true = 0.6
    rows = {"model_a": [], "model_b": [], "winner": []}
    for _ in range(20000):
        i, j = rng.choice(4, 2, replace=False)
        pi, pj = np.exp(s_true[i]), np.exp(s_true[j])
        tie = nu_true * np.sqrt(pi * pj)
        u = rng.random() * (pi + pj + tie)
        rows["model_a"].append(f"m{i}")
        rows["model_b"].append(f"m{j}")
        rows["winner"].append("model_a" if u < pi else "model_b" if u < pi + pj else "tie")
    r = fit_bradley_terry(pa.table(rows), ties="davidson", scale="logit")
    assert r.params["nu"] == pytest.approx(nu_true, abs=0.05)
    assert_allclose(r.rating, s_true - s_true.mean(), atol=0.06)

    c = pair_counts(pa.table(rows))

    def negll(x):
        s, lnu = x[:4], x[4]
        a, b = c.matchups[:, 0], c.matchups[:, 1]
        logd = np.logaddexp(np.logaddexp(s[a], s[b]), lnu + (s[a] + s[b]) / 2)
        lp = np.where(c.outcomes == 1, s[a], np.where(c.outcomes == 0, s[b],
                                                       lnu + (s[a] + s[b]) / 2)) - logd
        return -np.sum(c.weights * lp)

    ref = minimize(negll, np.zeros(5), method="Nelder-Mead",
                   options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 40000, "maxfev": 40000}).x
    assert_allclose(r.rating, ref[:4] - ref[:4].mean(), atol=1e-4)
    assert r.params["nu"] == pytest.approx(np.exp(ref[4]), rel=1e-4)


def test_anchor_and_scale():
    table = simulate_bt(np.array([0.0, 0.4, 1.2, -0.3]), 500, rng=5)
    free = fit_bradley_terry(table)
    anchored = fit_bradley_terry(table, anchor=("m001", 1200.0))
    assert anchored["m001"] == pytest.approx(1200.0)
    assert_allclose(anchored.rating - free.rating,
                    np.full(4, anchored.rating[0] - free.rating[0]), atol=1e-9)
    logit = fit_bradley_terry(table, scale="logit")
    assert_allclose((free.rating - 1000) * np.log(10) / 400, logit.rating, atol=1e-9)


def test_prior_shrinks_towards_zero():
    table = simulate_bt(np.array([0.0, 1.0, 2.0]), 200, rng=0)
    plain = fit_bradley_terry(table, scale="logit")
    shrunk = fit_bradley_terry(table, scale="logit", prior=5.0)
    assert np.ptp(shrunk.rating) < np.ptp(plain.rating)


def test_disconnected_graph_names_components():
    t = counts_from_arrays(["a", "b", "c", "d"], ["b", "a", "d", "c"],
                           ["model_a", "model_a", "model_a", "model_a"])
    with pytest.raises(ModelError, match=r"disconnected.*\{a, b\}.*\{c, d\}|\{c, d\}.*\{a, b\}"):
        fit_bradley_terry(t)
    fit_bradley_terry(t, prior=1.0)  # regularised: fine


def test_only_wins_is_an_error():
    t = counts_from_arrays(["a", "a", "b", "c"], ["b", "c", "c", "b"],
                           ["model_a", "model_a", "model_a", "model_a"])
    with pytest.raises(ModelError, match="only wins: a"):
        fit_bradley_terry(t)


def test_unknown_anchor_is_an_error():
    table = simulate_bt(np.array([0.0, 1.0, 2.0]), 200, rng=0)
    with pytest.raises(ModelError, match="anchor model 'gpt-4' is not among"):
        fit_bradley_terry(table, anchor=("gpt-4", 1000.0))


def test_weights_multiply_counts():
    t = pa.table({"model_a": ["a", "b", "a"], "model_b": ["b", "a", "b"],
                  "winner": ["model_a", "model_a", "model_b"], "weight": [3.0, 1.0, 2.0]})
    t3 = counts_from_arrays(["a"] * 5 + ["b"], ["b"] * 5 + ["a"],
                            ["model_a"] * 3 + ["model_b"] * 2 + ["model_a"])
    assert_allclose(fit_bradley_terry(t).rating, fit_bradley_terry(t3).rating, atol=1e-9)


@pytest.mark.parametrize("directed", [False, True])
def test_dense_connectivity_check_agrees_with_scipy(directed: bool) -> None:
    """The SciPy-free search decides (strong) connectivity exactly as SciPy's routine does,
    over sparse random boards on both sides of the threshold."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from preflab.rank._graph import _edges, _one_component

    rng = np.random.default_rng(3)
    seen = set()
    for _ in range(300):
        m = int(rng.integers(2, 12))
        k = int(rng.integers(1, 3 * m))
        a = rng.integers(0, m, k)
        b = (a + rng.integers(1, m, k)) % m
        outcomes = rng.choice([0.0, 0.5, 1.0], k)
        counts = PairCounts(tuple(f"m{i}" for i in range(m)), np.column_stack([a, b]),
                            outcomes, np.ones(k), np.ones(k), k)
        src, dst = _edges(counts, directed)
        g = coo_matrix((np.ones(len(src)), (src, dst)), shape=(m, m))
        n, _ = connected_components(g, directed=directed, connection="strong")
        assert _one_component(counts, directed) == (n == 1)
        seen.add(n == 1)
    assert seen == {True, False}
