"""``preflab convert`` and ``preflab validate`` end to end (click's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner

from preflab.cli._main import cli
from preflab.data import read_table, write_table

LLMFAO = ["--model-a", "left", "--model-b", "right", "--winner", "winner",
          "--winner-map", "left=model_a,right=model_b,tie=tie", "--prompt-id", "prompt_id",
          "--judge-col", "worker", "--judge-prefix", "human:"]


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_convert_llmfao_with_column_map(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "votes.parquet"
    code, _, err = _run("convert", str(shared_data / "llmfao/crowd_votes.parquet"), *LLMFAO,
                        "-o", str(out))
    assert code == 0, err
    assert "detected format: columns" in err and "wrote 8931 comparisons" in err
    t = pq.read_table(out)
    assert t.num_rows == 8931
    assert t.column_names == ["prompt_id", "model_a", "model_b", "winner", "judge"]


def test_convert_detects_and_writes_responses(shared_data: Path, tmp_path: Path) -> None:
    out, texts = tmp_path / "hh.jsonl", tmp_path / "texts.parquet"
    code, _, err = _run("convert", str(shared_data / "hh-rlhf/pairs.parquet"), "-o", str(out),
                        "--responses", str(texts))
    assert code == 0, err
    assert "detected format: pairs" in err
    assert read_table(out).num_rows == 2312
    assert pq.read_table(texts).num_rows == 4624


def test_convert_without_texts_refuses_responses(shared_data: Path, tmp_path: Path) -> None:
    code, _, err = _run("convert", str(shared_data / "arenahard/battles.parquet"),
                        "-o", str(tmp_path / "b.parquet"), "--responses", str(tmp_path / "r.pq"))
    assert code == 1 and "has no response texts" in err


def _bad_file(tmp_path: Path) -> Path:
    p = tmp_path / "arena.jsonl"
    rows = [{"model_a": "x", "model_b": "y", "winner": w} for w in
            ["model_a", "A", "tie", "B", "model_b"]]
    write_table(pa.Table.from_pylist(rows), p)
    return p


def test_convert_strict_error_names_file_row_field_and_fix(tmp_path: Path) -> None:
    p = _bad_file(tmp_path)
    code, _, err = _run("convert", str(p), "-o", str(tmp_path / "out.parquet"))
    assert code == 1
    expected = f"{p} row 1, field 'winner': 'A' is not one of model_a, model_b, tie, tie_bothbad."
    assert expected in err
    assert "--winner-map A=model_a,B=model_b" in err and "--skip-invalid" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out.parquet").exists()


def test_convert_skip_invalid_writes_rejects(tmp_path: Path) -> None:
    p = _bad_file(tmp_path)
    rej = tmp_path / "rejects.jsonl"
    code, _, err = _run("convert", str(p), "-o", str(tmp_path / "out.parquet"),
                        "--skip-invalid", str(rej))
    assert code == 0, err
    assert "2 of 5 rows rejected" in err
    lines = [json.loads(x) for x in rej.read_text().splitlines()]
    assert [x["row"] for x in lines] == [1, 3] and {x["field"] for x in lines} == {"winner"}
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 3


def test_winner_map_fixes_the_labels(tmp_path: Path) -> None:
    p = _bad_file(tmp_path)
    code, _, err = _run("convert", str(p), "--winner-map", "A=model_a,B=model_b",
                        "-o", str(tmp_path / "out.parquet"))
    assert code == 0, err
    assert pq.read_table(tmp_path / "out.parquet").column("winner").to_pylist() == [
        "model_a", "model_a", "tie", "model_b", "model_b"]


def test_validate_reports_all_problems(tmp_path: Path) -> None:
    p = _bad_file(tmp_path)
    code, out, err = _run("validate", str(p))
    assert code == 1
    assert "5 comparisons read, 3 valid, 2 invalid" in err
    assert "row 1, field 'winner': 'A'" in err and "row 3, field 'winner': 'B'" in err
    assert "invalid rows by field: winner: 2" in err
    rej = tmp_path / "r.csv"
    code, out, err = _run("validate", str(p), "--skip-invalid", str(rej))
    assert code == 0 and out.strip() == "ok"
    assert read_table(rej).num_rows == 2


def test_validate_ok_on_real_data(shared_data: Path) -> None:
    code, out, err = _run("validate", str(shared_data / "fastchat-reference/battles_10k.parquet"))
    assert code == 0, err
    assert "detected format: arena" in err and "10000 comparisons read, 10000 valid" in err
    assert out.strip() == "ok"


def test_validate_from_overrides_detection(shared_data: Path) -> None:
    code, _, err = _run("validate", str(shared_data / "judgebench/pairs.parquet"),
                        "--from", "judgebench")
    assert code == 0 and "detected format" not in err


def test_help_texts_end_with_examples() -> None:
    for command in ("convert", "validate"):
        code, out, _ = _run(command, "--help")
        assert code == 0 and "Example:" in out and "--skip-invalid" in out and "--from" in out


def test_validate_stream(tmp_path: Path, shared_data: Path) -> None:
    code, out, err = _run("validate", "--stream",
                          str(shared_data / "fastchat-reference/battles_10k.parquet"))
    assert code == 0 and out.strip() == "ok" and "10000 comparisons read, 10000 valid" in err
    p = _bad_file(tmp_path)
    code, out, err = _run("validate", "--stream", str(p))
    assert code == 1 and "invalid rows by field: winner: 2" in err
    assert f"{p} row 1, field 'winner': 'A' is not one of" in err
    code, _, err = _run("validate", "--stream", "--from", "pairs", str(p))
    assert code == 2 and "native comparisons files only" in err
