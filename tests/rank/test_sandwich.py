"""Newton BT on counts and sandwich (robust, clustered) intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from preflab._errors import DataError, ModelError
from preflab.rank._ratings import to_scale
from preflab.rank._sandwich import (
    BTCounts,
    bt_information,
    bt_newton,
    sandwich_intervals,
    table_counts,
)


def simulate(rng: np.random.Generator, strengths: np.ndarray, n: int, *, tie_rate: float = 0.0,
             cluster_size: int = 1) -> pa.Table:
    """BT battles with ``E[y] = σ(s_a - s_b)`` (a tie scored ½, drawn with ``tie_rate`` and the
    win probability adjusted so the mean stays right). With ``cluster_size`` > 1, the battles
    of a prompt (one pair) all copy one draw: perfectly correlated within the cluster."""
    m = len(strengths)
    g = n // cluster_size
    a0 = rng.integers(0, m, g)
    b0 = (a0 + rng.integers(1, m, g)) % m
    p = 1 / (1 + np.exp(-(strengths[a0] - strengths[b0])))
    tie = rng.random(g) < tie_rate
    q = np.clip((p - tie_rate / 2) / (1 - tie_rate), 0, 1)
    winner = np.where(rng.random(g) < q, "model_a", "model_b")
    winner[tie] = "tie"
    names = np.array([f"m{i:02d}" for i in range(m)])
    rep = np.repeat(np.arange(g), cluster_size)
    return pa.table({"prompt_id": rep.astype(str), "model_a": names[a0][rep],
                     "model_b": names[b0][rep], "winner": winner[rep]})


def test_newton_equals_exact_mle(shared_data: Path) -> None:
    ref = json.loads((shared_data / "fastchat-reference" / "choix_ilsr_10k.json").read_text())
    t = pq.read_table(shared_data / "fastchat-reference" / "battles_10k.parquet")
    c = table_counts(t)
    s = bt_newton(c.matchups, c.outcomes, c.weights, len(c.models))
    rating = to_scale(s, c.models)
    assert max(abs(rating[i] - ref["ratings"][m]) for i, m in enumerate(c.models)) < 1e-5
    # warm start from a perturbed point converges to the same optimum
    s2 = bt_newton(c.matchups, c.outcomes, c.weights, len(c.models), init=s + 0.3)
    np.testing.assert_allclose(s2, s, atol=1e-9)


def test_sandwich_close_to_model_based_without_ties() -> None:
    rng = np.random.default_rng(0)
    strengths = rng.normal(0, 1, 12)
    t = simulate(rng, strengths, 40000)
    r = sandwich_intervals(t, scale="logit")
    c = table_counts(t)
    s = bt_newton(c.matchups, c.outcomes, c.weights, len(c.models))
    info = bt_information(s, c.matchups, c.weights, len(c.models))
    centre = np.eye(12) - 1 / 12
    cov = centre @ np.linalg.pinv(info) @ centre
    se_model = np.sqrt(np.diag(cov))
    se_sand = np.asarray(r.params["se"])
    np.testing.assert_allclose(se_sand, se_model, rtol=0.1)


def test_singleton_clusters_equal_unclustered() -> None:
    rng = np.random.default_rng(1)
    t = simulate(rng, rng.normal(0, 1, 6), 3000, tie_rate=0.1)
    plain = sandwich_intervals(t)
    ids = pa.array([str(i) for i in range(len(t))])
    cl = sandwich_intervals(t.set_column(0, "prompt_id", ids), cluster="prompt_id")
    g = len(t)
    np.testing.assert_allclose(np.asarray(cl.params["se"]) / np.sqrt(g / (g - 1)),
                               plain.params["se"], rtol=1e-8)
    assert cl.interval_method == "sandwich-cluster:prompt_id"


def test_counts_input_equals_table_input() -> None:
    rng = np.random.default_rng(2)
    t = simulate(rng, rng.normal(0, 1, 5), 2000, tie_rate=0.2)
    c = table_counts(t)
    a = sandwich_intervals(t)
    b = sandwich_intervals(BTCounts(c.models, c.matchups, c.outcomes, c.weights))
    np.testing.assert_allclose(a.ci, b.ci)
    with pytest.raises(ModelError, match="clustered"):
        sandwich_intervals(c, cluster="prompt_id")
    with pytest.raises(DataError, match="no column"):
        sandwich_intervals(t, cluster="voter")


def test_anchor_has_zero_width() -> None:
    rng = np.random.default_rng(3)
    t = simulate(rng, rng.normal(0, 1, 5), 2000)
    r = sandwich_intervals(t, anchor=("m02", 1100.0))
    assert r.ci is not None
    i = r.models.index("m02")
    assert r.ci[i, 0] == pytest.approx(1100.0) and r.ci[i, 1] == pytest.approx(1100.0)


def test_sandwich_coverage_in_simulation() -> None:
    """95% intervals cover the true centred strengths in 90-98% of cases (ties included)."""
    rng = np.random.default_rng(4)
    strengths = rng.normal(0, 0.8, 8)
    truth = strengths - strengths.mean()
    hits = []
    for _ in range(150):
        t = simulate(rng, strengths, 1500, tie_rate=0.15)
        r = sandwich_intervals(t, scale="logit")
        assert r.ci is not None
        hits.append((r.ci[:, 0] <= truth) & (truth <= r.ci[:, 1]))
    cover = float(np.mean(hits))
    assert 0.90 <= cover <= 0.98


def test_clustered_sandwich_fixes_undercoverage() -> None:
    """Battles within a prompt are copies: plain intervals undercover, clustered ones don't."""
    rng = np.random.default_rng(5)
    strengths = rng.normal(0, 0.8, 6)
    truth = strengths - strengths.mean()
    plain, clustered = [], []
    for _ in range(60):
        t = simulate(rng, strengths, 3000, cluster_size=5)
        for out, kw in ((plain, {}), (clustered, {"cluster": "prompt_id"})):
            r = sandwich_intervals(t, scale="logit", **kw)  # type: ignore[arg-type]
            assert r.ci is not None
            out.append((r.ci[:, 0] <= truth) & (truth <= r.ci[:, 1]))
    assert np.mean(plain) < 0.88
    assert 0.88 <= np.mean(clustered) <= 0.99


def test_divergent_mle_is_an_error() -> None:
    t = pa.table({"prompt_id": ["1", "2", "3"], "model_a": ["x", "x", "y"],
                  "model_b": ["y", "z", "z"], "winner": ["model_a", "model_a", "model_a"]})
    with pytest.raises(ModelError, match="only wins"):
        sandwich_intervals(t)
    r = sandwich_intervals(t, prior=1.0)
    assert r.rating[0] > r.rating[2]
