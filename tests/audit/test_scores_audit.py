"""Rubric-judge audit: ICE-Score's example- and corpus-level correlations."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from preflab.audit import audit_scores, correlations


def notebook_method(df: pd.DataFrame, score: str, truth: str, group: str) -> dict[str, float]:
    """ICE-Score's compute_results.ipynb recipe written with pandas + scipy (the peer)."""
    ex = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _, g in df.groupby(group):
            ex.append(
                [
                    stats.kendalltau(g[score], g[truth])[0],
                    stats.spearmanr(g[score], g[truth])[0],
                    stats.pearsonr(g[score], g[truth])[0]
                    if g[score].nunique() > 1 and g[truth].nunique() > 1
                    else np.nan,
                ]
            )
        e = np.nanmean(np.array(ex, dtype=float), axis=0)
        return {
            "ex_kendall": e[0],
            "ex_spearman": e[1],
            "ex_pearson": e[2],
            "co_kendall": stats.kendalltau(df[score], df[truth])[0],
            "co_spearman": stats.spearmanr(df[score], df[truth])[0],
            "co_pearson": stats.pearsonr(df[score], df[truth])[0],
        }


def check(df: pd.DataFrame, score: str, truth: str, group: str) -> None:
    a = audit_scores(
        df[[group, score, truth]].to_dict("records"),
        score=score,
        truth=truth,
        group=group,
        n_boot=30,
    )
    ref = notebook_method(df, score, truth, group)
    got = {
        "ex_kendall": a.example.kendall.value,
        "ex_spearman": a.example.spearman.value,
        "ex_pearson": a.example.pearson.value,
        "co_kendall": a.corpus.kendall.value,
        "co_spearman": a.corpus.spearman.value,
        "co_pearson": a.corpus.pearson.value,
    }
    for k, v in ref.items():
        assert got[k] == pytest.approx(v, abs=1e-12), k
    # constant groups are dropped and counted
    n_const = sum(g[score].nunique() < 2 or g[truth].nunique() < 2 for _, g in df.groupby(group))
    assert a.example.n_dropped == n_const
    assert a.example.n_groups + a.example.n_dropped == df[group].nunique()
    for cs in (a.example, a.corpus):
        for c in (cs.kendall, cs.spearman, cs.pearson):
            assert c.ci[0] <= c.value + 0.02 and c.value - 0.02 <= c.ci[1]


@pytest.mark.parametrize("variant", ["nsnr", "nswr", "wsnr", "wswr"])
def test_ice_conala_usefulness_correlations(shared_data: Path, variant: str) -> None:
    df = pd.read_parquet(shared_data / "ice-score" / "conala_outputs.parquet")
    check(df, f"gpt35_{variant}", "human_grade", "problem_id")


def test_ice_humaneval_correctness_correlations(shared_data: Path) -> None:
    df = pd.read_parquet(
        shared_data / "ice-score" / "humaneval_samples.parquet",
        columns=["language", "task_id", "gpt35_nsnr", "gpt35_nswr", "passed"],
    )
    for _lang, d in df.groupby("language"):
        check(d, "gpt35_nsnr", "passed", "task_id")
    # README: 137 of 644 problems have all samples pass or all fail
    const = df.groupby(["language", "task_id"]).passed.nunique().eq(1).sum()
    assert const == 137


def test_ice_paper_table_values(shared_data: Path) -> None:
    """CoNaLa GPT-3.5 usefulness (reference-free, no CoT): example-level tau / corpus tau as the
    ICE-Score rebuild computes them (README: the rebuild reproduces the paper's cells)."""
    df = pd.read_parquet(shared_data / "ice-score" / "conala_outputs.parquet")
    a = audit_scores(df, score="gpt35_nsnr", truth="human_grade", group="problem_id", n_boot=20)
    assert round(a.example.kendall.value, 3) == 0.556
    assert round(a.corpus.kendall.value, 3) == 0.546
    assert a.example.n_dropped == 41


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.integers(3, 8), st.integers(0, 10_000))
def test_perfect_agreement_and_monotone_invariance(n_groups: int, n_items: int, seed: int) -> None:
    gen = np.random.default_rng(seed)
    truth = gen.normal(size=n_groups * n_items)
    group = np.repeat(np.arange(n_groups), n_items)
    a = correlations(np.exp(truth), truth, group, n_boot=10, rng=0)
    assert a.example.kendall.value == pytest.approx(1.0)
    assert a.example.spearman.value == pytest.approx(1.0)
    assert a.corpus.kendall.value == pytest.approx(1.0)
    b = correlations(-truth, truth, group, n_boot=10, rng=0)
    assert b.corpus.spearman.value == pytest.approx(-1.0)


def test_cli_audit_scores_json(shared_data: Path, tmp_path: Path) -> None:
    from preflab.cli._main import cli

    df = pd.read_parquet(shared_data / "ice-score" / "conala_outputs.parquet")
    df.to_parquet(tmp_path / "c.parquet")
    res = CliRunner().invoke(
        cli,
        [
            "audit",
            "scores",
            str(tmp_path / "c.parquet"),
            "--score",
            "gpt35_nswr",
            "--truth",
            "human_grade",
            "--group",
            "problem_id",
            "--format",
            "json",
            "--n-boot",
            "20",
        ],
    )
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert set(d) == {"example", "corpus"}
    for level in d.values():
        assert {"kendall", "spearman", "pearson", "n_groups", "n_dropped"} <= set(level)
    res = CliRunner().invoke(
        cli,
        [
            "audit",
            "scores",
            str(tmp_path / "c.parquet"),
            "--score",
            "nope",
            "--truth",
            "human_grade",
            "--group",
            "problem_id",
        ],
    )
    assert res.exit_code == 1 and "nope" in res.output
