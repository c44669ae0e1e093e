"""Aggregation engines: DuckDB streaming and Spark give the same counts and ratings."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from preflab._errors import DataError, ModelError
from preflab.rank import PairCounts, fit_bradley_terry, pair_counts
from preflab.rank._engines import stream_counts


def assert_same(a: PairCounts, b: PairCounts) -> None:
    assert a.models == b.models
    np.testing.assert_array_equal(a.matchups, b.matchups)
    np.testing.assert_array_equal(a.outcomes, b.outcomes)
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-12)
    np.testing.assert_array_equal(a.rows, b.rows)


@pytest.fixture(scope="module")
def battles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    n = 5000
    names = np.array([f"m{i}" for i in range(8)])
    a = rng.integers(0, 8, n)
    b = (a + rng.integers(1, 8, n)) % 8
    winner = rng.choice(["model_a", "model_b", "tie", "tie_bothbad"], n, p=[.45, .4, .1, .05])
    t = pa.table({"prompt_id": [str(i) for i in range(n)], "model_a": names[a],
                  "model_b": names[b], "winner": winner,
                  "weight": rng.choice([1.0, 3.0], n),
                  "category": rng.choice(["coding", "math"], n)})
    d = tmp_path_factory.mktemp("engines")
    pq.write_table(t.slice(0, 2500), d / "part-0.parquet")
    pq.write_table(t.slice(2500), d / "part-1.parquet")
    pacsv.write_csv(t, d / "all.csv")
    with open(d / "all.jsonl", "w") as fh:
        import json

        for r in t.to_pylist():
            fh.write(json.dumps(r) + "\n")
    pq.write_table(t, d / "all.parquet")
    return {"dir": d, "parquet": d / "all.parquet", "csv": d / "all.csv",
            "jsonl": d / "all.jsonl"}


def test_duckdb_equals_in_memory_counts(battles: dict[str, Path]) -> None:
    ref = pair_counts(pq.read_table(battles["parquet"]))
    for key in ("parquet", "csv", "jsonl"):
        assert_same(stream_counts(battles[key]), ref)
    assert_same(stream_counts(str(battles["dir"] / "part-*.parquet")), ref)
    assert_same(stream_counts([battles["dir"] / "part-0.parquet",
                               battles["dir"] / "part-1.parquet"]), ref)
    drop = stream_counts(battles["parquet"], ties="drop")
    assert not np.any(drop.outcomes == 0.5)
    coding = stream_counts(battles["parquet"], where="category = 'coding'")
    assert coding.n_rows < ref.n_rows
    assert fit_bradley_terry(stream_counts(battles["csv"])).as_dict() == pytest.approx(
        fit_bradley_terry(ref).as_dict())


def test_bad_input_is_named(battles: dict[str, Path], tmp_path: Path) -> None:
    bad = pa.table({"model_a": ["x", "y"], "model_b": ["y", "y"], "winner": ["model_a", "A"]})
    pq.write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(DataError, match="winner value"):
        stream_counts(tmp_path / "bad.parquet")
    pq.write_table(bad.set_column(3 - 1, "winner", pa.array(["model_a", "tie"])),
                   tmp_path / "self.parquet")
    with pytest.raises(DataError, match="compared with itself"):
        stream_counts(tmp_path / "self.parquet")
    with pytest.raises(DataError, match="not found"):
        stream_counts(tmp_path / "missing-*.parquet")
    with pytest.raises(ModelError, match="engine"):
        stream_counts(battles["parquet"], engine="polars")
    pq.write_table(pa.table({"a": [1]}), tmp_path / "nocols.parquet")
    with pytest.raises(DataError, match="missing columns"):
        stream_counts(tmp_path / "nocols.parquet")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="pyspark not installed (pip install 'preflab[spark]')")
    if shutil.which("java") is None:
        pytest.skip("no Java runtime for Spark (apt-get install openjdk-17-jre-headless)")
    import warnings

    from preflab.rank._engines import spark_session

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = spark_session("local[2]")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_spark_equals_duckdb(battles: dict[str, Path], spark: Any) -> None:
    for key in ("parquet", "csv", "jsonl"):
        duck = stream_counts(battles[key])
        sp = stream_counts(battles[key], engine="spark", spark=spark)
        assert_same(sp, duck)
    a = fit_bradley_terry(stream_counts(battles["parquet"], engine="spark", spark=spark,
                                        where="category = 'math'"))
    b = fit_bradley_terry(stream_counts(battles["parquet"], where="category = 'math'"))
    np.testing.assert_array_equal(a.rating, b.rating)


def test_chunked_style_control_equals_in_memory(shared_data: Path, tmp_path: Path) -> None:
    from preflab.rank._engines import stream_style_control
    from preflab.rank._style_control import fit_style_control

    rename = {"sum_assistant_a_tokens": "style_a_tokens", "header_count_a": "style_a_headers",
              "list_count_a": "style_a_lists", "bold_count_a": "style_a_bold",
              "sum_assistant_b_tokens": "style_b_tokens", "header_count_b": "style_b_headers",
              "list_count_b": "style_b_lists", "bold_count_b": "style_b_bold"}
    t = pq.read_table(shared_data / "fastchat-reference" / "battles_10k.parquet")
    t = t.rename_columns([rename.get(c, c) for c in t.column_names])
    pq.write_table(t.slice(0, 6000), tmp_path / "p0.parquet")
    pq.write_table(t.slice(6000), tmp_path / "p1.parquet")
    chunked = stream_style_control(str(tmp_path / "p*.parquet"), chunk_rows=1500,
                                   cache_dir=tmp_path)
    mem = fit_style_control(t, intervals="sandwich")
    assert chunked.ratings.models == mem.ratings.models
    np.testing.assert_allclose(chunked.ratings.rating, mem.ratings.rating, atol=1e-4)
    np.testing.assert_allclose(chunked.coef, mem.coef, atol=1e-6)
    assert chunked.ratings.ci is not None and mem.ratings.ci is not None
    np.testing.assert_allclose(chunked.ratings.ci, mem.ratings.ci, atol=1e-3)
    assert list(tmp_path.glob("preflab-style-*")) == []  # the cache is removed
    with pytest.raises(DataError, match="style_a_emoji"):
        stream_style_control(str(tmp_path / "p0.parquet"), features=("bold", "emoji"))
