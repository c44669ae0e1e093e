"""``preflab rm ...`` and ``preflab export pairs`` end to end on small files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from rm_helpers import synthetic_pairs

from preflab.cli._main import cli
from preflab.data import read_table, write_table


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("rmcli")
    p = synthetic_pairs(150)
    write_table(pa.table({"prompt": list(p.prompt), "chosen": list(p.chosen),
                          "rejected": list(p.rejected)}), d / "pairs.jsonl")
    t = synthetic_pairs(40, rng=5)
    write_table(pa.table({"prompt": list(t.prompt), "chosen": list(t.chosen),
                          "rejected": list(t.rejected), "pair_id": list(t.pair_id)}),
                d / "test.parquet")
    write_table(pa.table({
        "prompt_id": ["p1", "p1", "p2", "p2"], "model": ["a", "b", "a", "b"],
        "text": ["glad to help with tea.", "no idea about tea.", "go away with maps.",
                 "a careful answer about maps."],
        "prompt": ["Human: tea?\n\nAssistant:"] * 2 + ["Human: maps?\n\nAssistant:"] * 2,
        "correct": [1.0, 0.0, 0.0, 1.0]}), d / "responses.parquet")
    return d


def run(args: list[str]) -> str:
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_train_eval_score_judge_best_of_n(files: Path) -> None:
    m = files / "model"
    run(["rm", "train", str(files / "pairs.jsonl"), "-o", str(m), "--embeddings", "none",
         "--l2", "1e-3", "--bags", "2"])
    assert (m / "config.json").exists() and (m / "curve.png").exists()
    out = json.loads(run(["rm", "eval", str(m), str(files / "test.parquet"), "--format",
                          "json"]))
    assert out["accuracy"] > 0.9 and set(out["baselines"]) == {"longer", "shorter", "random"}
    assert len(out["ci"]) == 2 and "ece" in out
    run(["rm", "score", str(m), str(files / "responses.parquet"), "-o",
         str(files / "scores.parquet")])
    s = read_table(files / "scores.parquet")
    assert s.column("judge").to_pylist() == ["rm:model"] * 4
    run(["rm", "judge", str(files / "responses.parquet"), "--judge", f"rm:{m}", "-o",
         str(files / "votes.parquet")])
    v = read_table(files / "votes.parquet")
    assert v.column("winner").to_pylist() == ["model_a", "model_b"]
    gain = json.loads(run(["rm", "best-of-n", str(m), str(files / "responses.parquet"),
                           "--quality", "correct", "-o", str(files / "best.parquet")]))
    assert gain["selected"] == 1.0 and gain["gain"] == 0.5


def test_export_pairs_cli(files: Path) -> None:
    run(["export", "pairs", str(files / "scores.parquet"), "--responses",
         str(files / "responses.parquet"), "--method", "best-vs-worst", "--format", "trl",
         "-o", str(files / "dpo.jsonl")])
    rows = [json.loads(x) for x in (files / "dpo.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and set(rows[0]) == {"prompt", "chosen", "rejected"}
    run(["export", "pairs", str(files / "votes.parquet"), "--responses",
         str(files / "responses.parquet"), "--format", "jsonl", "-o", str(files / "p.jsonl")])
    rows = [json.loads(x) for x in (files / "p.jsonl").read_text().splitlines()]
    assert rows[0]["chosen_model"] == "a" and rows[1]["chosen_model"] == "b"


def test_errors_are_clean(files: Path) -> None:
    res = CliRunner().invoke(cli, ["rm", "judge", str(files / "responses.parquet"), "--judge",
                                   "gpt-4", "-o", str(files / "x.parquet")])
    assert res.exit_code == 1 and "rm:MODEL_DIR" in res.output
    res = CliRunner().invoke(cli, ["rm", "eval", str(files), str(files / "test.parquet")])
    assert res.exit_code == 1 and "not a saved reward model" in res.output


def test_process_cli(files: Path, tmp_path: Path) -> None:
    rows = [{"problem": f"p{i}", "tree": json.dumps({"children": [
        {"text": f"good step {i}", "q": 0.9}, {"text": f"bad step {i}", "q": -0.9}]})}
        for i in range(40)]
    write_table(pa.Table.from_pylist(rows), tmp_path / "trees.jsonl")
    run(["rm", "process", "pairs", str(tmp_path / "trees.jsonl"), "-o",
         str(tmp_path / "sp.parquet")])
    assert read_table(tmp_path / "sp.parquet").num_rows == 40
    run(["rm", "process", "train", str(tmp_path / "sp.parquet"), "-o", str(tmp_path / "ppm")])
    items = pa.table({"problem": ["q1", "q2"],
                      "steps": pa.array([["good step", "bad step"], ["good step"]],
                                        pa.list_(pa.string())), "label": [1, -1]})
    write_table(items, tmp_path / "fe.parquet")
    out = json.loads(run(["rm", "process", "eval", str(tmp_path / "ppm"),
                          str(tmp_path / "fe.parquet"), "--threshold", "0"]))
    assert out["f1"] == 1.0
    cands = pa.table({"group": ["g", "g"], "problem": ["q", "q"],
                      "steps": pa.array([["bad step"], ["good step"]], pa.list_(pa.string())),
                      "quality": [0.0, 1.0]})
    write_table(cands, tmp_path / "c.parquet")
    out = json.loads(run(["rm", "process", "best-of-n", str(tmp_path / "ppm"),
                          str(tmp_path / "c.parquet")]))
    assert out["selected"] == 1.0


def test_hh_split_by_where_and_judgebench_eval(shared_data: Path, tmp_path: Path) -> None:
    hh = str(shared_data / "hh-rlhf" / "pairs.parquet")
    m = tmp_path / "hh-rm"
    run(["rm", "train", hh, "--where", "pair_index % 5 <> 0", "-o", str(m), "--embeddings",
         "none", "--l2", "1e-3"])
    out = json.loads(run(["rm", "eval", str(m), hh, "--where", "pair_index % 5 = 0",
                          "--format", "json"]))
    assert out["n"] == 463 and out["accuracy"] > out["baselines"]["shorter"]["accuracy"]
    jb = json.loads(run(["rm", "eval", str(m), str(shared_data / "judgebench" / "pairs.parquet"),
                         "--format", "json"]))
    assert jb["n"] == 620 and set(jb["by_category"]) == {"knowledge", "reasoning", "math",
                                                         "coding"}
    res = CliRunner().invoke(cli, ["rm", "eval", str(m), hh, "--where", "no_such_col > 1"])
    assert res.exit_code == 1 and "--where" in res.output


def test_aspect_heads_from_the_cli(tmp_path: Path) -> None:
    rows = []
    for aspect, good, bad in (("helpful", "a detailed answer on", "a vague answer on"),
                              ("safe", "a gentle reply on", "a rude reply on")):
        p = synthetic_pairs(60, rng=1, aspect=aspect, good=[good], bad=[bad])
        rows += [{"prompt": a, "chosen": b, "rejected": c, "aspect": aspect}
                 for a, b, c in zip(p.prompt, p.chosen, p.rejected, strict=True)]
    write_table(pa.Table.from_pylist(rows), tmp_path / "aspects.jsonl")
    run(["rm", "train", str(tmp_path / "aspects.jsonl"), "-o", str(tmp_path / "m"),
         "--embeddings", "none", "--combine", "helpful=0.7,safe=0.3", "--bags", "1"])
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["aspects"] == ["helpful", "safe"]
    assert cfg["combine"] == {"helpful": 0.7, "safe": 0.3}
    write_table(pa.table({"prompt_id": ["q", "q"], "model": ["x", "y"],
                          "text": ["a rude reply on tea", "a gentle reply on tea"]}),
                tmp_path / "r.parquet")
    run(["rm", "score", str(tmp_path / "m"), str(tmp_path / "r.parquet"), "--aspect", "safe",
         "-o", str(tmp_path / "s.parquet")])
    s = read_table(tmp_path / "s.parquet").to_pylist()
    assert s[1]["score"] > s[0]["score"] and s[0]["aspect"] == "safe"
