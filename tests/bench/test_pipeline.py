"""The whole build on the 500 Arena-Hard questions against a fake judge on 127.0.0.1.

The fake judge's criteria are a pure function of each prompt (``fake_criteria``), a few replies
are malformed on purpose, so every number of the build can be recomputed here independently.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _bench_helpers import fake_criteria, judge_for

from preflab.bench import CRITERIA, BenchBuild, build_benchmark, prompts_from_table
from preflab.bench._report import write_build_report
from preflab.judge._fake_server import FakeOpenAI

SETTINGS: dict[str, Any] = {"n_components": 64, "rng": 0}


def _malformed(prompt: str) -> bool:
    return int(hashlib.sha256(("style" + prompt).encode()).hexdigest()[:12], 16) % 50 in (0, 1)


def _long(rows: list[dict[str, Any]]) -> list[int]:
    """The first two prompts long enough for a small edit to stay a near duplicate."""
    return [k for k, r in enumerate(rows) if len(r["prompt"]) > 300][:2]


@pytest.fixture(scope="module")
def questions(shared_data: Path) -> pa.Table:
    t = pq.read_table(shared_data / "arenahard" / "questions.parquet")
    assert t.num_rows == 500 and {"question_id", "prompt"} <= set(t.column_names)
    rows = t.select(["question_id", "prompt"]).to_pylist()
    i, j = _long(rows)
    extra = [  # 3 exact duplicates (after normalisation) and 2 near duplicates
        {"question_id": "dup-exact-0", "prompt": "  " + rows[0]["prompt"].upper() + "\n"},
        {"question_id": "dup-exact-1", "prompt": rows[1]["prompt"].replace(" ", "  ")},
        {"question_id": "dup-exact-2", "prompt": rows[2]["prompt"]},
        {"question_id": "dup-near-0", "prompt": rows[i]["prompt"] + " Thanks!"},
        {"question_id": "dup-near-1", "prompt": rows[j]["prompt"].replace(".", "!", 1) + " pls"},
    ]
    return pa.Table.from_pylist(rows + extra)


@pytest.fixture(scope="module")
def built(questions: pa.Table, judge_server: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[BenchBuild, Path]:
    d = tmp_path_factory.mktemp("build")
    ps = prompts_from_table(questions)
    b = build_benchmark(ps, judge_for(judge_server.url), cache=d / "cache.sqlite",
                        log=d / "log.jsonl", **SETTINGS)
    return b, d


def test_every_prompt_is_accounted_for(built: tuple[BenchBuild, Path]) -> None:
    b, _ = built
    t = b.table().to_pylist()
    assert len(t) == 505 and b.dedup.n_exact == 3 and b.dedup.n_near == 2
    dups = {r["prompt_id"]: r for r in t if r["reason"] in ("exact duplicate", "near duplicate")}
    assert set(dups) == {"dup-exact-0", "dup-exact-1", "dup-exact-2", "dup-near-0", "dup-near-1"}
    assert dups["dup-near-0"]["duplicate_of"] == t[_long(t)[0]]["prompt_id"]
    counts = b.drop_counts()
    assert b.n_kept + sum(counts.values()) == 505
    assert sum(not r["kept"] for r in t) == sum(counts.values())
    assert all((r["reason"] is None) == r["kept"] for r in t)
    assert b.clustering.sizes.min() >= 5 and b.clustering.sizes.sum() == 500


def test_scores_come_from_the_judge_and_bad_replies_are_kept_apart(
        built: tuple[BenchBuild, Path]) -> None:
    b, d = built
    rows = [r for r in b.table().to_pylist() if r["quality_status"] is not None]
    assert len(rows) == 500
    n_bad = 0
    for r in rows:
        if _malformed(r["prompt"]):
            n_bad += 1
            assert r["quality_status"] == "unparsed" and r["score"] is None
            assert r["reason"] == "quality reply unparsed" and r["criteria"] is None
        else:
            crit = fake_criteria(r["prompt"])
            assert r["quality_status"] == "ok" and r["score"] == len(crit)
            assert r["criteria"] == [CRITERIA[c - 1] for c in crit]
    assert n_bad > 0 and b.quality.n_unparsed == n_bad
    assert b.drop_counts()["quality reply unparsed"] == n_bad
    # the runner's per-call log holds every call
    assert len((d / "log.jsonl").read_text(encoding="utf-8").splitlines()) == 500


def test_selection_rule_recomputed_independently(built: tuple[BenchBuild, Path]) -> None:
    b, _ = built
    rows = [r for r in b.table().to_pylist() if r["cluster"] is not None]
    by_c: dict[int, list[float]] = {}
    for r in rows:
        if r["score"] is not None:
            by_c.setdefault(r["cluster"], []).append(r["score"])
    means = {c: float(np.mean(v)) for c, v in by_c.items()}
    for r in rows:
        expect = r["score"] is not None and r["score"] >= 6 and means[r["cluster"]] >= 6
        assert r["kept"] == expect, r["prompt_id"]
    good = [c for c, m in means.items() if m >= 6]
    assert 0 < len(good) < len(means) and 0 < b.n_kept < 400  # selection is not trivial
    bench = b.benchmark()
    assert bench.num_rows == b.n_kept
    assert bench.column_names[:6] == ["prompt_id", "prompt", "cluster", "cluster_label", "score",
                                      "criteria"]
    assert set(CRITERIA) <= set(bench.column_names)
    ids = {r["prompt_id"]: r for r in b.table().to_pylist()}
    for r in bench.to_pylist():  # representatives: 3 members of the same cluster
        assert len(r["cluster_representatives"]) == 3
        assert all(ids[x]["cluster"] == r["cluster"] for x in r["cluster_representatives"])
    assert min(bench.column("score").to_pylist()) >= 6


def test_rerun_is_free_and_identical(built: tuple[BenchBuild, Path], questions: pa.Table,
                                     judge_server: FakeOpenAI) -> None:
    b, d = built
    before = judge_server.n_requests
    again = build_benchmark(prompts_from_table(questions), judge_for(judge_server.url),
                            cache=d / "cache.sqlite", **SETTINGS)
    assert judge_server.n_requests == before
    assert again.quality.run["n_new"] == 0 and again.quality.run["n_cached"] == 500
    assert again.benchmark().equals(b.benchmark())


def test_interrupted_run_resumes_from_the_cache(built: tuple[BenchBuild, Path],
                                                questions: pa.Table, tmp_path: Path) -> None:
    b, _ = built
    ps = prompts_from_table(questions)
    with FakeOpenAI(reply=judge_server_reply()) as srv:
        priced = judge_for(srv.url, price_input=1000.0, price_output=0.0)
        first = build_benchmark(ps, priced, cache=tmp_path / "c.sqlite", budget=25.0, **SETTINGS)
        q1 = first.quality.run
        assert q1["stopped"] == "budget" and 0 < q1["n_new"] < 500 and q1["n_pending"] > 0
        assert first.drop_counts()["not annotated (budget reached)"] == q1["n_pending"]
        served = srv.n_requests
        second = build_benchmark(ps, priced, cache=tmp_path / "c.sqlite", **SETTINGS)
        assert second.quality.run["n_cached"] == q1["n_new"]
        assert second.quality.run["n_new"] == 500 - q1["n_new"]
        assert srv.n_requests - served == 500 - q1["n_new"]  # nothing asked twice
    assert second.benchmark().equals(b.benchmark())


def judge_server_reply() -> Any:
    from _bench_helpers import quality_reply

    return quality_reply


def test_per_cluster_sampling_is_seeded(built: tuple[BenchBuild, Path], questions: pa.Table,
                                        judge_server: FakeOpenAI) -> None:
    b, d = built
    ps = prompts_from_table(questions)
    runs = [build_benchmark(ps, judge_for(judge_server.url), cache=d / "cache.sqlite",
                            per_cluster=2, **SETTINGS) for _ in range(2)]
    s = runs[0].selection
    assert runs[0].benchmark().equals(runs[1].benchmark())
    assert (s.cluster_kept <= 2).all() and s.cluster_kept.sum() == runs[0].n_kept
    assert s.cluster_kept.tolist() == np.minimum(b.selection.cluster_eligible, 2).tolist()
    assert runs[0].drop_counts()["not sampled (per-cluster quota)"] == b.n_kept - runs[0].n_kept


def test_report(built: tuple[BenchBuild, Path], artifacts_dir: Path) -> None:
    b, _ = built
    path = write_build_report(b, artifacts_dir / "bench_build_arenahard.html")
    text = path.read_text(encoding="utf-8")
    assert "<script" not in text and text.count("<svg") == 2
    for needle in ("What was dropped and why", "cluster mean below threshold", "near duplicate",
                   "Examples per cluster", "Judge replies that did not parse",
                   f"{b.n_kept} of 505 prompts selected"):
        assert needle in text, needle
    for c in range(b.clustering.n_clusters):
        assert re.search(rf"<h3>{c}: ", text)


def test_tiny_and_empty_inputs(judge_server: FakeOpenAI) -> None:
    from preflab._errors import DataError
    from preflab.bench import PromptSet

    texts = ("Write a Python function to parse ISO dates.", "write a python function to parse "
             "ISO dates.", "Tell me a joke.")
    b = build_benchmark(PromptSet(("a", "b", "c"), texts, "prompt", None),
                        judge_for(judge_server.url), min_score=0, min_cluster_mean=0)
    assert b.dedup.n_exact == 1 and b.clustering.n_clusters == 1 and b.n_kept == 2
    with pytest.raises(DataError, match="no prompts"):
        build_benchmark(PromptSet((), (), "prompt", None), judge_for(judge_server.url))
    with pytest.raises(DataError, match="row 1"):
        prompts_from_table(pa.table({"prompt": ["x", " "]}))
    with pytest.raises(DataError, match="repeats row 0"):
        prompts_from_table(pa.table({"prompt": ["x", "y"], "id": [1, 1]}))
    ps = prompts_from_table(pa.table({"turns": [[{"content": "hi"}, {"content": "more"}]],
                                      "question_id": ["q"]}))
    assert ps.texts == ("hi",) and ps.ids == ("q",) and ps.text_col == "turns"
