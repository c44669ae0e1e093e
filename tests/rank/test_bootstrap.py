"""Bootstrap intervals: agreement with FastChat, coverage in simulation, √2 narrowing."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from preflab.rank import bootstrap_intervals, fit_bradley_terry, pair_counts
from preflab.testing import simulate_bt


def test_agrees_with_fastchat_bootstrap_within_monte_carlo_error(shared_data):
    """FastChat's compute_bootstrap_bt, 100 rounds, 100k battles (reference file).

    Two independent 100-round bootstraps differ by Monte-Carlo error only; we check that the
    interval bounds agree to a fraction of the interval width on average and that widths
    match on average (a systematic difference in method would show up there).
    """
    ref = shared_data / "fastchat-reference"
    fc = json.loads((ref / "fastchat_bootstrap_100k.json").read_text())
    r = bootstrap_intervals(pq.read_table(ref / "battles_100k.parquet"), n_rounds=100, rng=42)
    lo = np.array([fc["ci"][m][0] for m in r.models])
    hi = np.array([fc["ci"][m][1] for m in r.models])
    width_ref, width = hi - lo, r.ci[:, 1] - r.ci[:, 0]
    assert np.mean(np.abs(r.ci[:, 0] - lo)) < 0.15 * np.mean(width_ref)
    assert np.mean(np.abs(r.ci[:, 1] - hi)) < 0.15 * np.mean(width_ref)
    assert 0.9 < np.mean(width) / np.mean(width_ref) < 1.1
    med = fc["bootstrap_median"]
    ours = r.params["bootstrap_median"]
    assert np.mean([abs(ours[m] - med[m]) for m in med]) < 0.1 * np.mean(width_ref)


def test_coverage_in_simulation():
    """95% percentile intervals cover the true (centred) strengths 90–98% of the time."""
    rng = np.random.default_rng(2024)
    hits = total = 0
    for _ in range(30):
        truth = rng.normal(0, 0.8, 8)
        truth -= truth.mean()
        table = simulate_bt(truth, 2000, rng=rng)
        r = bootstrap_intervals(table, n_rounds=200, rng=rng, scale="logit")
        idx = [int(m[1:]) for m in r.models]
        t = truth[idx]
        hits += int(np.sum((r.ci[:, 0] <= t) & (t <= r.ci[:, 1])))
        total += len(t)
    assert 0.90 <= hits / total <= 0.98, hits / total


def test_duplicating_battles_narrows_intervals_by_sqrt2():
    table = simulate_bt(np.linspace(-1, 1, 6), 3000, rng=11)
    doubled = pa.concat_tables([table, table])
    w1 = np.diff(bootstrap_intervals(table, n_rounds=1500, rng=1).ci, axis=1).mean()
    w2 = np.diff(bootstrap_intervals(doubled, n_rounds=1500, rng=2).ci, axis=1).mean()
    assert w1 / w2 == pytest.approx(np.sqrt(2), rel=0.08)


def test_poisson_and_multinomial_agree():
    table = simulate_bt(np.linspace(-1, 1, 5), 4000, rng=4)
    m = bootstrap_intervals(table, n_rounds=600, rng=0, resample="multinomial")
    p = bootstrap_intervals(table, n_rounds=600, rng=0, resample="poisson")
    wm, wp = np.diff(m.ci, axis=1).mean(), np.diff(p.ci, axis=1).mean()
    assert wp / wm == pytest.approx(1.0, rel=0.1)


def test_seeded_runs_repeat_and_point_is_mle():
    table = simulate_bt(np.linspace(-1, 1, 5), 1000, rng=4)
    a = bootstrap_intervals(table, n_rounds=50, rng=123)
    b = bootstrap_intervals(table, n_rounds=50, rng=123)
    np.testing.assert_array_equal(a.ci, b.ci)
    np.testing.assert_allclose(a.rating, fit_bradley_terry(table).rating)


def test_rank_intervals():
    table = simulate_bt(np.array([0.0, 0.05, 2.0, 2.05]), 3000, rng=9)
    r = bootstrap_intervals(table, n_rounds=300, rng=0)
    rec = {x["model"]: x for x in r.to_records()}
    # the two strong models are indistinguishable: both can claim rank 1
    assert rec["m002"]["rank_ub"] == 1 and rec["m003"]["rank_ub"] == 1
    # the weak pair is clearly behind the strong pair
    assert rec["m000"]["rank_ub"] == 3 and rec["m001"]["rank_ub"] == 3
    assert rec["m000"]["rank_worst"] == 4
    assert {rec["m002"]["rank_ci_low"], rec["m003"]["rank_ci_low"]} == {1}


def test_weighted_cells_resample_rows():
    # a weight-3 row is one row counted three times, not three rows
    t = pa.table({"model_a": ["a", "b", "c"] * 50, "model_b": ["b", "c", "a"] * 50,
                  "winner": ["model_a", "model_b", "model_a"] * 50,
                  "weight": [3.0, 1.0, 1.0] * 50})
    c = pair_counts(t)
    assert c.n_rows == 150
    assert c.rows.sum() == 150 and c.weights.sum() == 250


def test_fast_multinomial_draws_have_the_exact_multinomial_law():
    """The Poisson-then-correct sampler against the exact Multinomial(4, (2,1,1,0)/4) pmf.

    With n = 4 the Poisson total misses n most of the time, so both corrections (adding and
    removing rows) are exercised; a chi-square test over all 15 outcomes would reject a
    correction that, say, removed rows in proportion to p instead of to the drawn counts.
    """
    from math import factorial

    from scipy.stats import chisquare

    from preflab.rank._bootstrap import multinomial_rows

    rows = np.array([2, 1, 1, 0])
    draws = multinomial_rows(rows, 40_000, np.random.default_rng(7))
    assert np.all(draws.sum(axis=1) == 4) and np.all(draws[:, 3] == 0) and draws.min() >= 0
    p = rows / 4
    outcomes, observed = np.unique(draws, axis=0, return_counts=True)
    pmf = np.array([factorial(4) * np.prod(p[:3] ** x[:3]) / np.prod([factorial(v) for v in x])
                    for x in outcomes])
    assert len(outcomes) == 15 and abs(pmf.sum() - 1) < 1e-12
    assert chisquare(observed, pmf * len(draws)).pvalue > 1e-3
    # large n: mean and covariance of the multinomial
    big = np.array([500, 30, 1, 0, 200])
    d = multinomial_rows(big, 4000, np.random.default_rng(8)).astype(float)
    q = big / big.sum()
    cov = big.sum() * (np.diag(q) - np.outer(q, q))
    assert np.allclose(d.mean(axis=0), big, atol=4 * np.sqrt(np.diag(cov) / 4000) + 1e-9)
    assert np.allclose(np.cov(d.T), cov, atol=0.1 * cov.max())
