"""Benchmark audit meta-metrics (Li et al. 2024): hand-worked cases and scipy's correlations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from preflab._errors import DataError
from preflab.audit._benchmark import (
    ScoreBoard,
    agreement,
    audit_benchmark,
    brier_score,
    correlation,
    read_board,
    separability,
)
from preflab.cli._main import cli

# three models: A [0, 2], B [1, 3] (overlaps A), C [5, 6] (apart from both)
CI3 = np.array([[0.0, 2.0], [1.0, 3.0], [5.0, 6.0]])


def test_separability_hand_case() -> None:
    assert separability(CI3) == pytest.approx(2 / 3)
    assert separability([[0, 1], [1, 2]]) == 1.0  # touching intervals count as separated
    assert separability([[0, 1.5], [1, 2]]) == 0.0


def test_agreement_hand_case() -> None:
    ref = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])  # the reference separates all 3 pairs
    # benchmark: A-B overlap (0), A-C same order (+1), B-C same order (+1)
    paper, notebook, n = agreement(CI3, ref)
    assert n == 3 and paper == pytest.approx(2 / 3) and notebook == pytest.approx(2.5 / 3)
    flipped = np.array([[5.0, 6.0], [1.0, 3.0], [0.0, 2.0]])  # A above C: reversed pairs
    paper, notebook, _ = agreement(flipped, ref)
    # A-B: separated, reversed (-1); A-C: reversed (-1); B-C: overlap (0)
    assert paper == pytest.approx(-2 / 3) and notebook == pytest.approx(0.5 / 3)
    # the reference separates only A-C: paper averages over all 3 pairs, notebook over 1
    ref2 = np.array([[0.0, 1.5], [1.0, 5.5], [5.0, 6.0]])
    paper, notebook, n = agreement(CI3, ref2)
    assert n == 1 and paper == pytest.approx(1 / 3) and notebook == pytest.approx(1.0)
    paper, notebook, n = agreement(CI3, np.array([[0, 9.0]] * 3))
    assert paper == 0.0 and math.isnan(notebook) and n == 0


def test_brier_hand_case() -> None:
    # two models, benchmark means 0 and 1, both sd 1 -> P(a < b) = Phi(1/sqrt 2)
    ci = np.array([[-1.96, 1.96], [1 - 1.96, 1 + 1.96]])
    p = stats.norm.cdf(1 / math.sqrt(2))
    assert brier_score([0.0, 1.0], ci, [10.0, 20.0]) == pytest.approx((p - 1) ** 2, rel=1e-3)
    assert brier_score([0.0, 1.0], ci, [20.0, 10.0]) == pytest.approx(p ** 2, rel=1e-3)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(-1000, 1000), st.integers(-1000, 1000)), min_size=5,
                max_size=30, unique=True))
def test_correlations_equal_scipy(pairs: list[tuple[int, int]]) -> None:
    x, y = np.array(pairs, dtype=float).T
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return
    for kind, fn in (("pearson", stats.pearsonr), ("spearman", stats.spearmanr),
                     ("kendall", stats.kendalltau)):
        c = correlation(x, y, kind=kind)
        assert c.value == pytest.approx(fn(x, y).statistic, abs=1e-12)
        assert c.ci_low <= c.value <= c.ci_high


def test_fisher_interval_formula() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=20)
    y = x + rng.normal(size=20)
    c = correlation(x, y, kind="pearson")
    z, half = math.atanh(c.value), 1.959963984540054 / math.sqrt(17)
    assert (c.ci_low, c.ci_high) == pytest.approx((math.tanh(z - half), math.tanh(z + half)))
    b = correlation(x, y, kind="pearson", method="bootstrap", n_boot=500, rng=1)
    assert b.ci_low < c.value < b.ci_high


def test_audit_on_common_models_and_formats(tmp_path: Path) -> None:
    bench = {"models": [
        {"model": "a", "score": 10, "ci_low": 8, "ci_high": 12},
        {"model": "b", "score": 20, "ci_low": 18, "ci_high": 22},
        {"model": "c", "score": 30, "ci_low": 28, "ci_high": 32},
        {"model": "x", "score": 40, "ci_low": 38, "ci_high": 42}]}
    ref = {"models": [  # preflab rank layout
        {"model": "a", "rating": 900, "ci_low": 890, "ci_high": 910},
        {"model": "b", "rating": 1000, "ci_low": 990, "ci_high": 1010},
        {"model": "c", "rating": 1100, "ci_low": 1090, "ci_high": 1110}]}
    pb, pr = tmp_path / "b.json", tmp_path / "r.json"
    pb.write_text(json.dumps(bench))
    pr.write_text(json.dumps(ref))
    res = audit_benchmark(read_board(pb), read_board(pr))
    assert res.models == ("a", "b", "c") and res.missing_in_reference == ("x",)
    assert res.separability == 1.0 and res.agreement == 1.0
    assert res.spearman.value == pytest.approx(1.0)
    csv = tmp_path / "r.csv"
    csv.write_text("model,score,lower,upper\na,1,0,2\nb,2,1.5,2.5\nc,3,2.9,3.1\n")
    assert read_board(csv).ci.tolist() == [[0, 2], [1.5, 2.5], [2.9, 3.1]]
    wr = tmp_path / "w.json"  # preflab winrate layout: LC by default, +-1.96 SE
    wr.write_text(json.dumps({"baseline": "z", "models": [
        {"model": "a", "win_rate": 10, "standard_error": 1, "lc_win_rate": 12,
         "lc_standard_error": 0.5}]}))
    board = read_board(wr)
    assert board.source == "lc_win_rate" and board.ci[0] == pytest.approx([11.02, 12.98],
                                                                            abs=1e-2)
    with pytest.raises(DataError, match="only 2 models"):
        audit_benchmark(read_board(pb), ScoreBoard(("a", "b"), np.zeros(2), np.zeros((2, 2))))


def test_cli_audit_benchmark(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    s = np.sort(rng.normal(size=8)) * 10
    rows = [{"model": f"m{i}", "score": float(v), "ci_low": float(v - 2), "ci_high": float(v + 2)}
            for i, v in enumerate(s)]
    ref = [{"model": f"m{i}", "rating": float(1000 + 30 * i), "ci_low": float(990 + 30 * i),
            "ci_high": float(1010 + 30 * i)} for i in range(8)]
    (tmp_path / "s.json").write_text(json.dumps({"models": rows}))
    (tmp_path / "r.json").write_text(json.dumps({"models": ref}))
    out = tmp_path / "a.json"
    res = CliRunner().invoke(cli, ["audit", "benchmark", str(tmp_path / "s.json"), "--reference",
                                   str(tmp_path / "r.json"), "--output", str(out), "--report",
                                   str(tmp_path / "a.html")])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["n_pairs"] == 28 and data["spearman"]["value"] == pytest.approx(1.0)
    assert "<svg" in (tmp_path / "a.html").read_text()
    bad = CliRunner().invoke(cli, ["audit", "benchmark", str(tmp_path / "s.json"), "--reference",
                                   str(tmp_path / "missing.json")])
    assert bad.exit_code != 0
