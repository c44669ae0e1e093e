"""Readers/writers round-trip in every format; the DuckDB streaming source; format detection."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import preflab.data as data
from preflab._errors import DataError
from preflab.data import (
    FileCheck,
    check_comparisons_file,
    comparisons_relation,
    detect_format,
    read_comparisons,
    read_input,
    read_table,
    scan_sql,
    write_table,
)
from preflab.data._io import arrow_table

TABLE = pa.table({
    "prompt_id": ["p1", "p2", "p3", "p4"],
    "model_a": ["x", "y", "z", "x"],
    "model_b": ["y", "z", "x", "z"],
    "winner": ["model_a", "tie", "model_b", "tie_bothbad"],
    "judge": ["human:1", "human:2", None, "human:1"],
    "weight": [1.0, 2.0, 0.5, 1.0],
    "tstamp": [1.0, 2.0, 3.0, 4.0],
    "style_a_tokens": [10.0, 20.0, 30.0, 40.0],
    "style_b_tokens": [11.0, 21.0, 31.0, 41.0],
})


@pytest.mark.parametrize("suffix", ["parquet", "csv", "jsonl", "json", "tsv", "csv.gz",
                                    "jsonl.gz", "json.gz"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    p = tmp_path / f"c.{suffix}"
    write_table(TABLE, p)
    if suffix == "tsv":
        assert p.read_text().splitlines()[0].count("\t") == TABLE.num_columns - 1
    table, rejects = read_comparisons(p)
    assert rejects.num_rows == 0
    assert table.to_pylist() == TABLE.to_pylist()
    assert table.schema.field("weight").type == pa.float64()


@pytest.mark.parametrize("suffix", ["json", "jsonl", "jsonl.gz"])
def test_python_json_writer_fallback(tmp_path: Path, suffix: str) -> None:
    from preflab.data._io import _write_json_python

    p = tmp_path / f"c.{suffix}"
    _write_json_python(TABLE, p, array=suffix == "json")
    assert read_table(p).to_pylist() == TABLE.to_pylist()


def test_gzipped_jsonl(tmp_path: Path) -> None:
    p = tmp_path / "c.jsonl.gz"
    with gzip.open(p, "wt") as fh:
        for r in TABLE.to_pylist():
            import json

            fh.write(json.dumps(r) + "\n")
    assert read_comparisons(p)[0].num_rows == 4


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("model_a,model_b,winner\n")
    with pytest.raises(DataError, match="cannot tell the format"):
        read_table(tmp_path / "x.txt")
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "x.csv")


def test_invalid_jsonl_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"model_a": "x"}\n{"model_a": 1}\n{oops\n')
    with pytest.raises(DataError) as err:
        read_table(p)
    assert err.value.row == 2 and "invalid JSON" in str(err.value)


@pytest.mark.parametrize("suffix", ["parquet", "csv", "jsonl", "json"])
def test_duckdb_relation_streams_native_files(tmp_path: Path, suffix: str) -> None:
    p = tmp_path / f"c.{suffix}"
    raw = TABLE.set_column(3, "winner", pa.array(["model_a", "tie", "model_b", "tie (bothbad)"]))
    write_table(raw.drop(["prompt_id"]), p)
    rel = comparisons_relation(p)
    got = arrow_table(rel.order("tstamp")).to_pylist()
    assert [r["winner"] for r in got] == TABLE.column("winner").to_pylist()
    assert [r["prompt_id"] for r in got] == ["row:0", "row:1", "row:2", "row:3"]
    counts = dict(rel.aggregate("winner, sum(weight) AS w").fetchall())
    assert counts == {"model_a": 1.0, "tie": 2.0, "model_b": 0.5, "tie_bothbad": 1.0}
    assert duckdb.sql(f"SELECT count(*) FROM {scan_sql(p)}").fetchall() == [(4,)]


def test_duckdb_relation_requires_columns(tmp_path: Path) -> None:
    p = tmp_path / "c.parquet"
    write_table(TABLE.drop(["winner"]), p)
    with pytest.raises(DataError) as err:
        comparisons_relation(p)
    assert err.value.field == "winner" and "preflab convert" in (err.value.fix or "")


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["prompt_id", "model_a", "model_b", "winner", "weight"], "native"),
        (["model_a", "model_b", "winner", "question_id", "tstamp"], "arena"),
        (["model_a", "model_b", "winner", "sum_assistant_a_tokens"], "arena"),
        (["generator_1", "generator_2", "output_1", "output_2", "preference"], "alpacaeval"),
        (["question_id", "model", "judge", "games"], "arena-hard"),
        (["question_id", "model", "game", "label", "baseline"], "arena-hard"),
        (["pair_id", "question", "response_A", "response_B", "label"], "judgebench"),
        (["prompt", "chosen", "rejected"], "pairs"),
        (["chosen", "rejected"], "pairs"),
        (["prompt_id", "models", "judge"], "rankings"),
    ],
)
def test_detect_format(columns: list[str], expected: str) -> None:
    assert detect_format(columns) == expected


def test_detect_with_column_map_and_failure() -> None:
    assert detect_format(["l", "r", "v"], column_map=True) == "columns"
    with pytest.raises(DataError, match="cannot detect"):
        detect_format(["l", "r", "v"], path="x.csv")


def test_public_names_are_exported() -> None:
    for name in data.__all__:
        assert hasattr(data, name), name
    assert sorted(data.__all__) == sorted(set(data.__all__))


NAMES = st.sampled_from(["x", "y", "z", "", " ", None])
LABELS = st.sampled_from(["model_a", "model_b", "tie", "tie (bothbad)", "A", None])
WEIGHTS = st.one_of(st.none(), st.sampled_from([1.0, 0.0, -1.0, math.nan, math.inf, 2.5]))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(NAMES, NAMES, LABELS, WEIGHTS, st.sampled_from(["p", "", None])),
                min_size=1, max_size=25))
def test_streaming_check_agrees_with_in_memory_validation(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple]  # type: ignore[type-arg]
) -> None:
    table = pa.table({"prompt_id": [r[4] for r in rows], "model_a": [r[0] for r in rows],
                      "model_b": [r[1] for r in rows], "winner": [r[2] for r in rows],
                      "weight": pa.array([r[3] for r in rows], pa.float64())},
                     schema=pa.schema([("prompt_id", pa.string()), ("model_a", pa.string()),
                                       ("model_b", pa.string()), ("winner", pa.string()),
                                       ("weight", pa.float64())]))
    p = tmp_path_factory.mktemp("stream") / "c.parquet"
    write_table(table, p)
    mem = read_input(p, strict=False)
    check = check_comparisons_file(p, strict=False)
    assert check.n_rows == len(rows)
    assert check.n_invalid == mem.rejects.num_rows
    fields = mem.rejects.column("field").to_pylist()
    assert check.invalid_by_field == {f: fields.count(f) for f in set(fields)}
    if fields:
        with pytest.raises(DataError) as a:
            read_comparisons(p)
        with pytest.raises(DataError) as b:
            check_comparisons_file(p)
        assert str(a.value) == str(b.value)
    else:
        assert check_comparisons_file(p).n_invalid == 0


def test_streaming_check_on_real_battles(shared_data: Path) -> None:
    check = check_comparisons_file(shared_data / "fastchat-reference/battles_100k.parquet")
    assert check == FileCheck(100_000, 0, {})


def test_csv_ids_stay_text(tmp_path: Path) -> None:
    p = tmp_path / "ids.csv"
    p.write_text("prompt_id,model_a,model_b,winner,weight\n007,1,2,model_a,1\n010,2,1,tie,\n")
    table, _ = read_comparisons(p, strict=False)
    assert table.column("prompt_id").to_pylist() == ["007"]
    assert table.column("model_a").to_pylist() == ["1"]
    _, rejects = read_comparisons(p, strict=False)
    assert rejects.column("field").to_pylist() == ["weight"]
    rel = comparisons_relation(p)
    assert arrow_table(rel).column("prompt_id").to_pylist() == ["007", "010"]
    assert check_comparisons_file(p, strict=False).invalid_by_field == {"weight": 1}
