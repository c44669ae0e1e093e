"""Incremental boards: appending in pieces and refitting equals one full fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from preflab._errors import DataError, ModelError
from preflab.rank import fit_bradley_terry, pair_counts
from preflab.rank._incremental import Board


def battles(seed: int, n: int, n_models: int = 30) -> pa.Table:
    rng = np.random.default_rng(seed)
    s = rng.normal(0, 1, n_models)
    a = rng.integers(0, n_models, n)
    b = (a + rng.integers(1, n_models, n)) % n_models
    p = 1 / (1 + np.exp(-(s[a] - s[b])))
    u = rng.random(n)
    winner = np.where(u < p - 0.05, "model_a", np.where(u < p + 0.05, "tie", "model_b"))
    names = np.array([f"model-{i:03d}" for i in range(n_models)])
    return pa.table({"prompt_id": [str(i) for i in range(n)], "model_a": names[a],
                     "model_b": names[b], "winner": winner,
                     "weight": rng.choice([1.0, 2.0], n)})


def test_incremental_equals_full_refit(tmp_path: Path) -> None:
    data = battles(0, 20000)
    board = Board.create(tmp_path / "b.board")
    for i in range(5):
        board.append(data.slice(i * 4000, 4000))
        board.fit()
        assert board.last_iterations >= 1
    inc = board.fit(anchor=("model-003", 1100.0))
    full = fit_bradley_terry(data, anchor=("model-003", 1100.0))
    assert set(inc.models) == set(full.models)
    for m in full.models:
        assert inc[m] == pytest.approx(full[m], abs=1e-7)
    assert board.n_comparisons == len(data) == inc.n_comparisons
    # the counts on disk equal the counts of all data
    c, ref = board.counts(), pair_counts(data)
    assert c.models == ref.models
    order = np.lexsort((c.outcomes, c.matchups[:, 1], c.matchups[:, 0]))
    rorder = np.lexsort((ref.outcomes, ref.matchups[:, 1], ref.matchups[:, 0]))
    np.testing.assert_array_equal(c.matchups[order], ref.matchups[rorder])
    np.testing.assert_allclose(c.weights[order], ref.weights[rorder])
    board.close()
    # reopening restores counts and the warm start; a small append needs few Newton steps
    with Board(tmp_path / "b.board") as again:
        reopened = again.fit()
        assert again.last_iterations == 1  # warm start already at the optimum
        plain = fit_bradley_terry(data)
        for m in plain.models:
            assert reopened[m] == pytest.approx(plain[m], abs=1e-7)
        again.append(battles(1, 50))
        again.fit()
        assert again.last_iterations <= 4


def test_new_models_and_files(tmp_path: Path) -> None:
    board = Board.create(tmp_path / "b.board", ties="drop")
    first = battles(2, 3000, n_models=5)
    board.append(first)
    pq.write_table(battles(3, 3000, n_models=8), tmp_path / "more.parquet")
    board.append(tmp_path / "more.parquet")
    r = board.fit()
    full = fit_bradley_terry(pa.concat_tables([first, pq.read_table(tmp_path / "more.parquet")]),
                             ties="drop")
    for m in full.models:
        assert r[m] == pytest.approx(full[m], abs=1e-7)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no board"):
        Board(tmp_path / "missing.board")
    b = Board.create(tmp_path / "x.board")
    with pytest.raises(DataError, match="empty"):
        b.fit()
    with pytest.raises(DataError, match="already exists"):
        Board.create(tmp_path / "x.board")
    with pytest.raises(ModelError, match="ties"):
        Board.create(tmp_path / "y.board", ties="davidson")
    b.append(pa.table({"prompt_id": ["1"], "model_a": ["p"], "model_b": ["q"],
                       "winner": ["model_a"]}))
    with pytest.raises(ModelError, match="only"):
        b.fit()
