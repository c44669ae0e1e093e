"""BenchBuilder's selection rule, reasons and seeded per-cluster sampling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preflab.bench import REASONS, select_prompts


def test_rule_and_reasons_by_hand() -> None:
    labels = [0, 0, 0, 1, 1, 1, -1, 0]
    score = [7, 6, 5, np.nan, 7, 4, np.nan, np.nan]
    status = ["ok", "ok", "ok", "unparsed", "ok", "ok", "skipped", "failed"]
    s = select_prompts(labels, score, status)
    # cluster 0 mean over parsed = 6.0 (kept), cluster 1 = 5.5 (dropped)
    np.testing.assert_allclose(s.cluster_mean, [6.0, 5.5])
    assert s.keep.tolist() == [True, True, False, False, False, False, False, False]
    assert s.reason == ("", "", "score below threshold", "quality reply unparsed",
                        "cluster mean below threshold", "cluster mean below threshold",
                        "small cluster", "quality call failed")
    assert s.cluster_scored.tolist() == [3, 2] and s.cluster_kept.tolist() == [2, 0]
    lax = select_prompts(labels, score, status, min_score=4, min_cluster_mean=5)
    assert lax.keep.tolist() == [True, True, True, False, True, True, False, False]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 7), st.booleans()), min_size=1,
                max_size=60), st.integers(1, 4), st.integers(0, 3))
def test_invariants(rows: list[tuple[int, int, bool]], per: int, seed: int) -> None:
    labels = [r[0] for r in rows]
    score = [float(r[1]) if r[2] else np.nan for r in rows]
    status = ["ok" if r[2] else "unparsed" for r in rows]
    full = select_prompts(labels, score, status)
    s = select_prompts(labels, score, status, per_cluster=per, rng=seed)
    again = select_prompts(labels, score, status, per_cluster=per, rng=seed)
    assert s.keep.tolist() == again.keep.tolist()  # seeded
    assert sum(s.counts().values()) + int(s.keep.sum()) == len(rows)  # every prompt accounted
    assert set(s.reason) <= {"", *REASONS}
    assert (s.keep <= full.keep).all()  # sampling only removes eligible prompts
    for c in set(labels):
        m = np.array(labels) == c
        assert s.keep[m].sum() == min(per, full.keep[m].sum())
        vals = [x for x, lab in zip(score, labels, strict=True) if lab == c and x == x]
        if full.keep[m].any():
            assert np.mean(vals) >= 6.0
    for k in np.flatnonzero(full.keep):
        assert score[k] >= 6.0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        select_prompts([0], [1.0, 2.0], ["ok"])
    with pytest.raises(ValueError):
        select_prompts([0], [1.0], ["ok"], per_cluster=0)
