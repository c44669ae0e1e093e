"""Invariants of the Bradley–Terry fit (hypothesis)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import preflab.testing
from preflab.data import swap_sides
from preflab.rank import bootstrap_intervals, fit_bradley_terry


@settings(max_examples=40, deadline=None)
@given(table=preflab.testing.comparisons(min_models=3, mle_exists=True))
def test_bt_ignores_side_swap(table):
    assert_allclose(fit_bradley_terry(table).rating,
                    fit_bradley_terry(swap_sides(table)).rating, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(table=preflab.testing.comparisons(min_models=3, mle_exists=True, min_rows=20))
def test_bootstrap_ignores_side_swap(table):
    # same seed, same cells after collapsing sides: identical replicates
    a = bootstrap_intervals(table, n_rounds=20, rng=0)
    b = bootstrap_intervals(swap_sides(table), n_rounds=20, rng=0)
    assert_allclose(a.ci, b.ci, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(table=preflab.testing.comparisons(min_models=3, mle_exists=True))
def test_davidson_ignores_side_swap(table):
    if not any(w.startswith("tie") for w in table.column("winner").to_pylist()):
        table = pa.concat_tables([table, pa.table({
            "prompt_id": ["x"], "model_a": [table.column("model_a")[0].as_py()],
            "model_b": [table.column("model_b")[0].as_py()], "winner": ["tie"]})])
    assert_allclose(fit_bradley_terry(table, ties="davidson").rating,
                    fit_bradley_terry(swap_sides(table), ties="davidson").rating, atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(table=preflab.testing.comparisons(min_models=3, mle_exists=True),
       value=st.floats(-5000, 5000), pick=st.integers(0, 10))
def test_anchor_shifts_all_ratings_equally(table, value, pick):
    free = fit_bradley_terry(table)
    name = free.models[pick % len(free.models)]
    anchored = fit_bradley_terry(table, anchor=(name, value))
    shift = anchored.rating - free.rating
    assert_allclose(shift, np.full_like(shift, shift[0]), atol=1e-6)
    assert abs(anchored[name] - value) < 1e-6


@settings(max_examples=30, deadline=None)
@given(table=preflab.testing.comparisons(min_models=3, mle_exists=True, weights=True))
def test_duplicating_rows_keeps_the_mle(table):
    assert_allclose(fit_bradley_terry(pa.concat_tables([table, table])).rating,
                    fit_bradley_terry(table).rating, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(table=preflab.testing.comparisons(min_models=3, mle_exists=True))
def test_win_rates_and_counts_are_consistent(table):
    r = fit_bradley_terry(table)
    assert r.n is not None and r.win_rate is not None
    assert r.n.sum() == 2 * table.num_rows
    assert np.all((r.win_rate >= 0) & (r.win_rate <= 1))
    # wins and losses balance: the n-weighted mean win rate is one half
    assert abs(float(np.sum(r.n * r.win_rate)) / r.n.sum() - 0.5) < 1e-12
