"""bench evaluate: two-game judging of fake answers, Arena-Hard scores, separability, audit;
and the CLI end to end (build, then evaluate) against a fake judge on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _bench_helpers import judge_for
from click.testing import CliRunner

from preflab._errors import DataError
from preflab.audit._benchmark import ScoreBoard
from preflab.bench import evaluate_benchmark
from preflab.cli._main import cli
from preflab.data import write_table
from preflab.judge._fake_server import FakeOpenAI

STRENGTH = {"gpt-4-0314": 1.0, "strong": 1.5, "mid": 0.6, "weak": 0.3}


def _bench(shared_data: Path, n: int = 40) -> pa.Table:
    t = pq.read_table(shared_data / "arenahard" / "questions.parquet").slice(0, n)
    return pa.table({"prompt_id": t.column("question_id"), "prompt": t.column("prompt")})


def _answers(bench: pa.Table, skip: int = 0) -> pa.Table:
    rows = []
    for m, s in STRENGTH.items():
        for k, pid in enumerate(bench.column("prompt_id").to_pylist()):
            if m == "weak" and k < skip:
                continue
            rows.append({"prompt_id": pid, "model": m,
                         "text": f"{m} answers {pid} [strength {s}]"})
    rows.append({"prompt_id": "not-in-bench", "model": "mid", "text": "x [strength 0]"})
    return pa.Table.from_pylist(rows)


def test_scores_match_the_verdicts_and_order(shared_data: Path, judge_server: FakeOpenAI) -> None:
    bench = _bench(shared_data)
    ref = ScoreBoard(("strong", "gpt-4-0314", "mid", "weak"), np.array([80.0, 50.0, 35.0, 15.0]),
                     np.array([[78, 82], [49, 51], [33, 37], [13, 17]], dtype=float), "ref")
    ev = evaluate_benchmark(bench, _answers(bench, skip=5), judge_for(judge_server.url),
                            baseline="gpt-4-0314", reference=ref, n_rounds=200, rng=0)
    assert ev.run["n_new"] + ev.run["n_cached"] == 2 * (40 + 40 + 35)
    scores = {r.model: r for r in ev.board.models}
    assert scores["gpt-4-0314"].score == 50.0
    assert scores["strong"].score > 50 > scores["mid"].score > scores["weak"].score
    assert scores["weak"].n_questions == 35
    assert any("weak answered 35 of 40" in n for n in ev.notes)
    assert any("1 answers to prompts outside" in n for n in ev.notes)
    # score = weighted share of the model's battle rows won, ties half (Arena-Hard, one baseline)
    for m in ("strong", "mid", "weak"):
        win = tot = 0.0
        for r in ev.comparisons.to_pylist():
            if m not in (r["model_a"], r["model_b"]):
                continue
            side = "model_a" if r["model_a"] == m else "model_b"
            y = 0.5 if r["winner"] == "tie" else float(r["winner"] == side)
            win += y * r["weight"]
            tot += r["weight"]
        assert scores[m].score == pytest.approx(100 * win / tot)
        assert scores[m].ci_low - 1e-9 <= scores[m].score <= scores[m].ci_high + 1e-9
        assert 0 < scores[m].score < 100
    assert ev.separability == 1.0  # strengths far apart: all three pairs separated
    assert ev.audit is not None and ev.audit.agreement == 1.0
    assert ev.audit.spearman.value == pytest.approx(1.0)
    assert json.loads(json.dumps(ev.to_dict()))["separability"] == 1.0


def test_bad_inputs(shared_data: Path, judge_server: FakeOpenAI) -> None:
    bench = _bench(shared_data, 5)
    answers = _answers(bench)
    no_base = answers.filter(pa.compute.not_equal(answers.column("model"), "gpt-4-0314"))
    with pytest.raises(DataError, match="baseline 'gpt-4-0314' has no answer"):
        evaluate_benchmark(bench, no_base, judge_for(judge_server.url), baseline="gpt-4-0314")
    from preflab.bench import QUALITY_TEMPLATE

    with pytest.raises(DataError, match="not pairwise"):
        evaluate_benchmark(bench, answers, judge_for(judge_server.url, template=QUALITY_TEMPLATE),
                           baseline="gpt-4-0314")
    with pytest.raises(DataError, match="no column 'text'"):
        evaluate_benchmark(bench, answers.drop(["text"]), judge_for(judge_server.url),
                           baseline="gpt-4-0314")


def test_cli_build_then_evaluate(shared_data: Path, judge_server: FakeOpenAI, tmp_path: Path,
                                 artifacts_dir: Path) -> None:
    src = pq.read_table(shared_data / "arenahard" / "questions.parquet").slice(0, 150)
    prompts = tmp_path / "question.jsonl"  # Arena-Hard's layout: turns: [{"content": ...}]
    write_table(pa.table({"question_id": src.column("question_id"),
                          "turns": [[{"content": p}] for p in src.column("prompt").to_pylist()]}),
                prompts)
    judge_toml = tmp_path / "judge.toml"
    judge_toml.write_text(f'model = "fake-judge"\nbase_url = "{judge_server.url}"\n'
                          'api_key_env = ""\nconcurrency = 8\n', encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "bench.parquet"
    res = runner.invoke(cli, ["bench", "build", str(prompts), "-o", str(out), "--judge",
                              str(judge_toml), "--per-cluster", "3", "--min-cluster-mean", "5",
                              "--n-components", "32", "--report",
                              str(artifacts_dir / "bench_build_cli.html")])
    assert res.exit_code == 0, res.output
    bench = pq.read_table(out)
    table = pq.read_table(tmp_path / "bench.build.parquet")
    assert table.num_rows == 150 and 0 < bench.num_rows <= 3 * 10
    assert (tmp_path / "bench.cache.sqlite").exists() and (tmp_path / "bench.log.jsonl").exists()
    answers = tmp_path / "model_answer"  # Arena-Hard's layout: one JSONL per model
    answers.mkdir()
    for m in STRENGTH:
        rows = [{"question_id": r["prompt_id"], "model_id": m,
                 "choices": [{"index": 0, "turns": [{"content": r["text"]}]}]}
                for r in _answers(bench).to_pylist() if r["model"] == m]
        write_table(pa.Table.from_pylist(rows), answers / f"{m}.jsonl")
    ref = tmp_path / "ref.csv"
    ref.write_text("model,score,ci_low,ci_high\nstrong,80,78,82\ngpt-4-0314,50,49,51\n"
                   "mid,35,33,37\nweak,15,13,17\n", encoding="utf-8")
    res = runner.invoke(cli, ["bench", "evaluate", str(out), "--judge", str(judge_toml),
                              "--baseline", "gpt-4-0314", "--answers", str(answers),
                              "--reference", str(ref), "-o", str(tmp_path / "eval.json"),
                              "--report", str(artifacts_dir / "bench_evaluate_cli.html")])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "eval.json").read_text(encoding="utf-8"))
    order = [m["model"] for m in data["board"]["models"]]
    assert order == ["strong", "gpt-4-0314", "mid", "weak"]
    assert data["audit"]["agreement"] is not None and data["separability"] is not None
    html = (artifacts_dir / "bench_evaluate_cli.html").read_text(encoding="utf-8")
    assert "Benchmark audit" in html and "Separability" in html
    # no judge: a clean error, not a traceback
    res = runner.invoke(cli, ["bench", "build", str(prompts), "-o", str(out)])
    assert res.exit_code == 1 and "no judge given" in res.output
    res = runner.invoke(cli, ["bench", "build", str(prompts), "-o", str(out), "--judge",
                              str(judge_toml), "--text-col", "nope"])
    assert res.exit_code == 1 and "no column 'nope'" in res.output


def test_battles_from_comparisons_reproduce_published_scores(shared_data: Path) -> None:
    """Arena-Hard's own battle rows (one comparisons row each, weight 1) through
    ``battles_from_comparisons`` give the published v0.1 scores (leaderboard 2024-07-31:
    gpt-3.5-turbo-0125 23.34, gpt-4-0613 37.9; shared data README)."""
    from preflab.bench import battles_from_comparisons
    from preflab.rank._arena_hard import arena_hard_scores

    t = pq.read_table(shared_data / "arenahard" / "battles.parquet")
    comps = pa.table({"prompt_id": t.column("question_id"), "model_a": t.column("model_a"),
                      "model_b": t.column("model_b"),
                      "winner": pa.compute.replace_substring(t.column("winner"),
                                                             "tie (bothbad)", "tie"),
                      "weight": pa.array(np.ones(t.num_rows))})
    board = arena_hard_scores(battles_from_comparisons(comps, "gpt-4-0314"), n_rounds=20,
                              rng=0, question_bootstrap=False)
    got = {r.model: r.score for r in board.models}
    assert got["gpt-3.5-turbo-0125"] == pytest.approx(23.34, abs=0.05)
    assert got["gpt-4-0613"] == pytest.approx(37.9, abs=0.05)


def test_answers_layouts(tmp_path: Path) -> None:
    from preflab.bench import answers_from_table, read_answers

    ah = pa.Table.from_pylist([{"question_id": "q1", "model_id": "m",
                                "choices": [{"index": 0, "turns": [{"content": "hi"}]}]}])
    assert answers_from_table(ah).to_pylist() == [{"prompt_id": "q1", "model": "m", "text": "hi"}]
    plain = pa.table({"prompt_id": ["q1"], "model": ["m"], "response": ["yo"]})
    assert answers_from_table(plain).column("text").to_pylist() == ["yo"]
    with pytest.raises(DataError, match="row 1"):
        answers_from_table(pa.table({"prompt_id": ["a", "b"], "model": ["m", "m"],
                                     "text": ["x", None]}), path="a.jsonl")
    with pytest.raises(DataError, match="not an answers table"):
        answers_from_table(pa.table({"prompt_id": ["a"]}))
    with pytest.raises(DataError, match="no .jsonl"):
        read_answers(tmp_path)
