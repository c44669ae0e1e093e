"""``preflab rank`` end to end: formats, report, errors, and every shared data set."""

from __future__ import annotations

import json
import re

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from preflab.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_json_output_has_the_documented_fields():
    res = run("rank", "sample:llmfao", "--bootstrap", "50", "--seed", "1", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert {"method", "scale", "anchor", "n_comparisons", "models"} <= set(doc)
    assert doc["n_comparisons"] == 8931 and doc["method"] == "bradley_terry"
    top = doc["models"][0]
    for key in ("model", "rating", "ci_low", "ci_high", "rank", "rank_ub", "n", "win_rate"):
        assert key in top
    assert top["model"] == "GPT 4" and top["rank"] == 1
    ratings = [m["rating"] for m in doc["models"]]
    assert ratings == sorted(ratings, reverse=True)  # best first
    assert all(m["ci_low"] <= m["rating"] <= m["ci_high"] for m in doc["models"])


def test_anchor_scale_and_csv(tmp_path):
    out = tmp_path / "board.csv"
    res = run("rank", "sample:llmfao", "--anchor", "GPT 4=1200", "--format", "csv", "-o", str(out))
    assert res.exit_code == 0, res.output
    rows = pacsv.read_csv(out).to_pylist()
    rating = {r["model"]: r["rating"] for r in rows}
    assert rating["GPT 4"] == pytest.approx(1200.0)
    assert len(rows) == 59


def test_parquet_output_and_by_slices(tmp_path, shared_data):
    out = tmp_path / "board.parquet"
    res = run("rank", str(shared_data / "fastchat-reference" / "battles_10k.parquet"),
              "--format", "parquet", "-o", str(out), "--prior", "0.01")
    assert res.exit_code == 0, res.output
    assert pq.read_table(out).num_rows == 100


def test_html_report_is_self_contained(tmp_path):
    report = tmp_path / "board.html"
    res = run("rank", "sample:llmfao", "--bootstrap", "20", "--report", str(report))
    assert res.exit_code == 0, res.output
    html = report.read_text()
    assert html.count("<svg") >= 3  # forest plot, win-probability heatmap, battle counts
    assert "GPT 4" in html
    assert not re.search(r"<script|src=\"http|href=\"http|@import", html)


def test_unknown_anchor_is_a_clean_error():
    res = run("rank", "sample:llmfao", "--anchor", "gpt-5=1000")
    assert res.exit_code == 1
    assert "anchor model 'gpt-5' is not among the 59 models" in res.output
    assert "Traceback" not in res.output


def test_bad_anchor_syntax():
    res = run("rank", "sample:llmfao", "--anchor", "nonsense")
    assert res.exit_code == 2 and "MODEL=RATING" in res.output


def test_elo_method():
    res = run("rank", "sample:llmfao", "--method", "elo", "--format", "json")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["method"] == "online_elo"


@pytest.mark.parametrize(
    ("relpath", "extra"),
    [
        ("fastchat-reference/battles_100k.parquet", []),
        ("alpacaeval/annotations_native.parquet", []),
        ("arenahard/battles.parquet", []),
        ("arenahard/judgments.parquet", ["--skip-invalid", "{tmp}/rejects.jsonl"]),
        ("llmfao/crowd_votes.parquet", ["--model-a", "left", "--model-b", "right", "--winner",
                                        "winner", "--winner-map",
                                        "left=model_a,right=model_b,tie=tie"]),
        ("llmfao/judge_votes.parquet", ["--model-a", "left", "--model-b", "right", "--winner",
                                        "winner", "--winner-map",
                                        "left=model_a,right=model_b,tie=tie", "--by", "judge"]),
        ("hh-rlhf/pairs.parquet", ["--prior", "1"]),
        ("judgebench/pairs.parquet", []),
    ],
)
def test_rank_works_on_every_shared_data_set(shared_data, tmp_path, relpath, extra):
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    res = run("rank", str(shared_data / relpath), "--format", "json", *args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout[res.stdout.index("{"):])
    assert len(doc["models"]) >= 2
    assert doc["n_comparisons"] > 0


def test_streamed_native_file_equals_in_memory_path(tmp_path, shared_data):
    src = shared_data / "fastchat-reference" / "battles_10k.parquet"
    native = tmp_path / "native.parquet"
    table = pq.read_table(src).select(["model_a", "model_b", "winner", "tstamp"])
    pq.write_table(table, native)
    streamed = json.loads(run("rank", str(native), "--format", "json").stdout)
    mapped = json.loads(run("rank", str(native), "--format", "json", "--from", "arena").stdout)
    assert [m["model"] for m in streamed["models"]] == [m["model"] for m in mapped["models"]]
    for a, b in zip(streamed["models"], mapped["models"]):
        assert a["rating"] == pytest.approx(b["rating"], abs=1e-9)


def test_bad_rows_in_a_native_file_get_row_level_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("prompt_id,model_a,model_b,winner\n1,a,b,model_a\n2,b,a,A\n3,a,b,tie\n")
    res = run("rank", str(bad))
    assert res.exit_code == 1
    assert "row" in res.output and "'winner'" in res.output and "'A'" in res.output


def test_style_control_and_sandwich_boards(shared_data):
    res = run("rank", str(shared_data / "fastchat-reference" / "battles_10k.parquet"),
              "--style-control", "--intervals", "sandwich", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [s["feature"] for s in doc["style"]] == ["tokens", "headers", "lists", "bold"]
    assert all(s["ci_low"] < s["coef"] < s["ci_high"] for s in doc["style"])
    plain = doc["boards"]["overall"]
    assert plain["intervals"].startswith("sandwich") and "style" not in plain
    assert len(plain["models"]) == len(doc["models"]) == 100


def test_style_control_report_shows_both_boards(tmp_path, shared_data):
    report = tmp_path / "r.html"
    res = run("rank", str(shared_data / "fastchat-reference" / "battles_10k.parquet"),
              "--style-control", "--intervals", "sandwich", "--report", str(report))
    assert res.exit_code == 0, res.output
    html = report.read_text()
    assert "overall (style-controlled)" in html and "Style coefficients" in html
    assert html.count("<h2>") >= 2
