"""The scale commands end to end: board, next-pairs, fragility, power, voter-influence,
rank-kwise (click's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from preflab.cli._main import cli
from preflab.rank import fit_bradley_terry


def run(*args: str, ok: bool = True) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    n, m = 4000, 8
    s = rng.normal(0, 1, m)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    win = np.where(rng.random(n) < 1 / (1 + np.exp(-(s[a] - s[b]))), "model_a", "model_b")
    names = np.array([f"m{i}" for i in range(m)])
    t = pa.table({"prompt_id": [str(i) for i in range(n)], "model_a": names[a],
                  "model_b": names[b], "winner": win, "judge": [f"v{i % 25}" for i in range(n)]})
    d = tmp_path_factory.mktemp("scale_cli")
    pq.write_table(t.slice(0, 2500), d / "a.parquet")
    pq.write_table(t.slice(2500), d / "b.parquet")
    pq.write_table(t, d / "all.parquet")
    votes = pa.table({"prompt_id": ["1", "2", "3", "4"],
                      "models": [[["x"], ["y"], ["z"]], [["y"], ["x", "z"]],
                                 [["z"], ["x"], ["y"]], [["x"], ["z"], ["y"]]]})
    pq.write_table(votes, d / "votes.parquet")
    return {"dir": d, "a": d / "a.parquet", "b": d / "b.parquet", "all": d / "all.parquet",
            "votes": d / "votes.parquet"}


def test_board_commands(files: dict[str, Path]) -> None:
    board = str(files["dir"] / "x.board")
    run("board", "init", board)
    out = run("board", "append", board, str(files["a"]), str(files["b"])).output
    assert "4,000 in total" in out
    doc = json.loads(run("board", "show", board, "--format", "json").stdout)
    full = fit_bradley_terry(pq.read_table(files["all"]))
    for rec in doc["models"]:
        assert rec["rating"] == pytest.approx(full[rec["model"]], abs=1e-6)
    assert run("board", "init", board, ok=False).exit_code == 1


def test_next_pairs_command(files: dict[str, Path]) -> None:
    board = str(files["dir"] / "y.board")
    run("board", "init", board)
    run("board", "append", board, str(files["all"]))
    out = run("next-pairs", board, "-n", "5", "--format", "json", "--budget", "m0=0").stdout
    pairs = json.loads(out)
    assert len(pairs) == 5 and all("m0" not in (p["model_a"], p["model_b"]) for p in pairs)
    out = run("next-pairs", str(files["all"]), "-n", "3", "--new-model", "m9").output
    assert out.count("m9") == 3
    assert run("next-pairs", board, "--budget", "m0", ok=False).exit_code == 2


def test_robustness_commands(files: dict[str, Path]) -> None:
    out = run("fragility", str(files["all"]), "--format", "json").stdout
    assert json.loads(out)["verified"] is True
    assert "reverses it" in run("fragility", str(files["all"]), "--pair", "m1", "m2").output
    doc = json.loads(run("power", str(files["all"]), "m1", "m2", "--format", "json").stdout)
    assert doc["model_a"] == "m1" and doc["level"] == 0.95
    out = run("voter-influence", str(files["all"]), "--top", "3").stdout
    assert len(out.strip().splitlines()) == 4  # header + 3 voters
    bad = run("power", str(files["all"]), "m1", "nobody", ok=False)
    assert bad.exit_code == 1 and "not in the data" in bad.output


def test_rank_kwise_command(files: dict[str, Path]) -> None:
    doc = json.loads(run("rank-kwise", str(files["votes"]), "--format", "json").stdout)
    assert [r["model"] for r in doc["models"]][0] == "x"
    out = files["dir"] / "pairs.parquet"
    run("rank-kwise", str(files["votes"]), "--expand", "pair", "-o", str(out))
    assert pq.read_table(out).num_rows == 3 * 4
    run("rank-kwise", str(files["votes"]), "--method", "spectral", "--bootstrap", "20")
