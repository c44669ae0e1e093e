"""The live board's Bradley-Terry fit: against choix, preflab.rank, the published LLMFAO board,
warm starts, and bootstrap coverage by simulation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from preflab import rank
from preflab.arena import PairCounts, bt_newton, fit_board


def _random_counts(rng: np.random.Generator, m: int, games: int) -> PairCounts:
    truth = rng.normal(0, 1, m)
    rows = []
    names = [f"m{i}" for i in range(m)]
    for i in range(m):
        for j in range(i + 1, m):
            p = 1 / (1 + np.exp(truth[j] - truth[i]))
            w = rng.binomial(games, p)
            t = rng.binomial(games - w, 0.2)
            rows.append((names[i], names[j], int(w), int(games - w - t), int(t), 0))
    return PairCounts.from_rows(rows)


def test_matches_choix_with_same_penalty() -> None:
    choix = pytest.importorskip("choix", reason="choix is the peer implementation")
    rng = np.random.default_rng(1)
    m = 7
    truth = rng.normal(0, 1, m)
    data = []
    for _ in range(600):
        i, j = rng.choice(m, 2, replace=False)
        p = 1 / (1 + np.exp(truth[j] - truth[i]))
        data.append((int(i), int(j)) if rng.random() < p else (int(j), int(i)))
    pairs = np.array(data)
    y = np.ones(len(data))
    n = np.ones(len(data))
    prior = 0.2
    ours, _ = bt_newton(pairs, y, n, m, prior=prior)
    # choix penalises alpha * ||theta||^2, we penalise (prior / 2) * ||s||^2
    peer = choix.opt_pairwise(m, data, alpha=prior / 2, method="Newton-CG")
    assert_allclose(ours, peer - peer.mean(), atol=1e-5)


def _llmfao_counts(shared_data: Path) -> tuple[PairCounts, pd.DataFrame]:
    votes = pd.read_parquet(shared_data / "llmfao" / "crowd_votes.parquet")
    rows: dict[tuple[str, str], list[int]] = {}
    for left, right, winner in zip(votes["left"], votes["right"], votes["winner"], strict=True):
        a, b = sorted((left, right))
        cell = rows.setdefault((a, b), [0, 0, 0])
        if winner == "tie":
            cell[2] += 1
        else:
            cell[0 if (left if winner == "left" else right) == a else 1] += 1
    return PairCounts.from_rows([(a, b, w, lo, t, 0) for (a, b), (w, lo, t) in rows.items()]), votes


def test_reproduces_published_llmfao_human_board(shared_data: Path) -> None:
    """LLMFAO's published human scores (Evalica BT, ties half, normalised to sum 1)."""
    counts, _ = _llmfao_counts(shared_data)
    y = counts.wins[:, 0] + 0.5 * counts.ties
    scores, _ = bt_newton(counts.pairs, y, counts.games, len(counts.models), prior=1e-9)
    share = np.exp(scores) / np.exp(scores).sum()
    ref = pd.read_csv(shared_data / "llmfao" / "reference_5_models.csv")
    got = {m: share[counts.models.index(m)] for m in ref["model"]}
    for model, want in zip(ref["model"], ref["score"], strict=True):
        assert got[model] == pytest.approx(want, rel=2e-3), model


def test_matches_preflab_rank_bt_mle(shared_data: Path) -> None:
    counts, _ = _llmfao_counts(shared_data)
    k = len(counts.pairs)
    matchups = np.concatenate([counts.pairs, counts.pairs, counts.pairs])
    outcomes = np.concatenate([np.ones(k), np.zeros(k), np.full(k, 0.5)])
    weights = np.concatenate([counts.wins[:, 0], counts.wins[:, 1], counts.ties])
    keep = weights > 0
    peer = rank.bt_mle(matchups[keep], outcomes[keep], weights[keep], len(counts.models),
                       prior=0.05)
    y = counts.wins[:, 0] + 0.5 * counts.ties
    ours, _ = bt_newton(counts.pairs, y, counts.games, len(counts.models), prior=0.05)
    assert_allclose(ours, np.asarray(peer) - np.mean(peer), atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(2, 8))
def test_warm_start_reaches_the_same_optimum(seed: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    counts = _random_counts(rng, m, games=int(rng.integers(1, 30)))
    y = counts.wins[:, 0] + 0.5 * counts.ties
    cold, se = bt_newton(counts.pairs, y, counts.games, m)
    warm, _ = bt_newton(counts.pairs, y, counts.games, m, init=rng.normal(0, 3, m))
    assert_allclose(cold, warm, atol=1e-6)
    assert np.all(se > 0)
    # relabelling the models permutes the scores
    perm = rng.permutation(m)
    inv = np.argsort(perm)
    moved, _ = bt_newton(inv[counts.pairs], y, counts.games, m)
    assert_allclose(moved[inv], cold, atol=1e-6)


def test_bootstrap_intervals_cover_truth() -> None:
    """Simulation: 95% bootstrap intervals cover the true (centred) ratings about 95%."""
    rng = np.random.default_rng(7)
    m, reps, hits, total = 6, 60, 0, 0
    truth = np.linspace(-1, 1, m)
    truth_r = 1000 + 400 / np.log(10) * (truth - truth.mean())
    for _ in range(reps):
        rows = []
        for i in range(m):
            for j in range(i + 1, m):
                p = 1 / (1 + np.exp(truth[j] - truth[i]))
                w = rng.binomial(40, p)
                rows.append((f"m{i}", f"m{j}", int(w), 40 - int(w), 0, 0))
        board = fit_board(PairCounts.from_rows(rows), n_rounds=100, rng=rng, prior=1e-6)
        hits += int(np.sum((board.ci[:, 0] <= truth_r) & (truth_r <= board.ci[:, 1])))
        total += m
    coverage = hits / total
    assert 0.88 <= coverage <= 0.99, coverage


def test_board_without_votes() -> None:
    board = fit_board(PairCounts.from_rows([], ("a", "b", "c")), n_rounds=10)
    assert board.models == ("a", "b", "c")
    assert_allclose(board.rating, 1000.0)
    assert board.n_votes == 0
