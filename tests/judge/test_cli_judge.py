"""`preflab judge` and `preflab verify` end to end against the fake server."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from _judge_helpers import make_pairs
from click.testing import CliRunner

from preflab.cli._main import cli
from preflab.judge._fake_server import FakeOpenAI


def invoke(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.output


def test_judge_with_toml_then_audit(tmp_path: Path) -> None:
    pq.write_table(
        pa.Table.from_pylist(make_pairs(10, category="demo")), tmp_path / "pairs.parquet"
    )
    with FakeOpenAI(malformed_rate=0.1) as srv:
        (tmp_path / "j.toml").write_text(
            f'model = "fake-judge"\nbase_url = "{srv.url}"\napi_key_env = "FAKE_KEY"\n'
            "concurrency = 4\nprice_input = 1.0\nprice_output = 4.0\n"
        )
        runner = CliRunner(env={"FAKE_KEY": "sk-test"})
        args = [
            "judge",
            str(tmp_path / "pairs.parquet"),
            "--judge",
            str(tmp_path / "j.toml"),
            "-o",
            str(tmp_path / "out.parquet"),
        ]
        res = runner.invoke(cli, args)
        assert res.exit_code == 0, res.output
        n_requests = srv.n_requests
        res = runner.invoke(cli, args)  # the re-run is free: nothing is asked again
        assert res.exit_code == 0, res.output
        assert srv.n_requests == n_requests
    assert n_requests == 20
    comps = pq.read_table(tmp_path / "out.parquet")
    verdicts = pq.read_table(tmp_path / "out.verdicts.parquet")
    assert verdicts.num_rows == 20
    n_unparsed = verdicts.column("status").to_pylist().count("unparsed")
    assert comps.num_rows == 20 - n_unparsed
    assert set(comps.column("judge").to_pylist()) == {"fake-judge"}
    log = [json.loads(x) for x in (tmp_path / "out.log.jsonl").read_text().splitlines()]
    assert len(log) == 20 and all(x["cost"] > 0 for x in log)
    assert (tmp_path / "out.cache.sqlite").exists()
    # the audit reads the runner's verdicts directly
    code, out = invoke(
        "audit",
        "judge",
        str(tmp_path / "out.verdicts.parquet"),
        "--format",
        "json",
        "--n-boot",
        "10",
    )
    assert code == 0, out
    d = json.loads(out)["fake-judge"]
    assert d["n_unparsed"] == n_unparsed and d["position"]["n_pairs_both_orders"] > 0
    assert d["length"] is not None and d["length"]["n"] == 20 - n_unparsed


def test_judge_shorthand_baseline_and_rubric(tmp_path: Path) -> None:
    responses = [
        {"prompt_id": p, "model": m, "text": f"{m} says {p}", "prompt": f"Q{p}"}
        for p in ("1", "2", "3")
        for m in ("base", "x", "y")
    ]
    pq.write_table(pa.Table.from_pylist(responses), tmp_path / "resp.parquet")
    rubric = [
        {"prompt_id": p, "prompt": f"Write code {p}", "model": "m", "response": f"x = {p}"}
        for p in ("1", "2")
    ]
    pq.write_table(pa.Table.from_pylist(rubric), tmp_path / "rubric.parquet")
    with FakeOpenAI() as srv:
        code, out = invoke(
            "judge",
            str(tmp_path / "resp.parquet"),
            "--baseline",
            "base",
            "--model",
            "fake",
            "--base-url",
            srv.url,
            "--api-key-env",
            "",
            "--concurrency",
            "3",
            "-o",
            str(tmp_path / "c.parquet"),
        )
        assert code == 0, out
        code, out = invoke(
            "judge",
            str(tmp_path / "rubric.parquet"),
            "--model",
            "fake",
            "--base-url",
            srv.url,
            "--api-key-env",
            "",
            "--template",
            "ice-usefulness",
            "-o",
            str(tmp_path / "s.parquet"),
        )
        assert code == 0, out
    comps = pq.read_table(tmp_path / "c.parquet").to_pylist()
    assert len(comps) == 12  # 2 models x 3 prompts x 2 games
    assert {r["model_a"] for r in comps if r["game"] == 1} == {"base"}
    scores = pq.read_table(tmp_path / "s.parquet")
    assert scores.column_names[:3] == ["prompt_id", "model", "score"]
    assert scores.num_rows == 2 and set(scores.column("aspect").to_pylist()) == {"usefulness"}


def test_judge_reference_generated_first(tmp_path: Path) -> None:
    pq.write_table(pa.Table.from_pylist(make_pairs(2)), tmp_path / "p.parquet")
    with FakeOpenAI() as srv:
        code, out = invoke(
            "judge",
            str(tmp_path / "p.parquet"),
            "--model",
            "fake",
            "--base-url",
            srv.url,
            "--api-key-env",
            "",
            "--template",
            "arena-hard-reference",
            "--reference",
            "generate",
            "-o",
            str(tmp_path / "o.parquet"),
        )
        assert code == 0, out
        assert srv.n_requests == 2 + 4  # one reference answer per prompt, then two games each
    log = [json.loads(x) for x in (tmp_path / "o.log.jsonl").read_text().splitlines()]
    refs = [x for x in log if x["tag"].startswith("ref:")]
    judged = [x for x in log if not x["tag"].startswith("ref:")]
    assert len(refs) == 2 and all(
        any(r["reply"] in m["content"] for r in refs for m in x["messages"]) for x in judged
    )


def test_judge_failures_exit_nonzero_and_resume(tmp_path: Path) -> None:
    pq.write_table(pa.Table.from_pylist(make_pairs(3)), tmp_path / "p.parquet")
    with FakeOpenAI(fail_first=2, fail_status=503) as srv:
        (tmp_path / "j.toml").write_text(
            f'model = "f"\nbase_url = "{srv.url}"\napi_key_env = ""\nmax_retries = 0\n'
            "backoff_base = 0.01\n"
        )
        args = [
            "judge",
            str(tmp_path / "p.parquet"),
            "--judge",
            str(tmp_path / "j.toml"),
            "-o",
            str(tmp_path / "o.parquet"),
        ]
        code, out = invoke(*args)
        assert code == 1 and "6 calls failed" in out and "Re-run" in out
        code, out = invoke(*args)  # second attempt of each fails too
        assert code == 1
        code, out = invoke(*args)
        assert code == 0, out
    assert pq.read_table(tmp_path / "o.verdicts.parquet").num_rows == 6


def test_judge_needs_a_judge(tmp_path: Path) -> None:
    pq.write_table(pa.Table.from_pylist(make_pairs(1)), tmp_path / "p.parquet")
    code, out = invoke("judge", str(tmp_path / "p.parquet"), "-o", str(tmp_path / "o.parquet"))
    assert code == 1 and "--judge" in out


def test_verify_cli(tmp_path: Path) -> None:
    rows = [
        {
            "prompt_id": "p",
            "model": "ok",
            "response": "def f():\n    return 1",
            "tests": ["assert f() == 1"],
        },
        {
            "prompt_id": "p",
            "model": "bad",
            "response": "def f():\n    return 2",
            "tests": ["assert f() == 1"],
        },
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "code.parquet")
    code, out = invoke(
        "verify",
        str(tmp_path / "code.parquet"),
        "--kind",
        "code",
        "-o",
        str(tmp_path / "s.parquet"),
        "--pairs",
        str(tmp_path / "pairs.parquet"),
        "--details",
        str(tmp_path / "d.parquet"),
    )
    assert code == 0, out
    pairs = pq.read_table(tmp_path / "pairs.parquet").to_pylist()
    assert len(pairs) == 1 and pairs[0]["model_a"] == "bad" and pairs[0]["winner"] == "model_b"
    assert pairs[0]["judge"] == "verifier:code"
    math = [{"prompt_id": "q", "model": "m", "response": "\\boxed{4}", "reference": "4"}]
    (tmp_path / "m.jsonl").write_text(json.dumps(math[0]) + "\n")
    code, out = invoke(
        "verify", str(tmp_path / "m.jsonl"), "--kind", "math", "-o", str(tmp_path / "ms.parquet")
    )
    assert code == 0, out
    assert pq.read_table(tmp_path / "ms.parquet").column("score").to_pylist() == [1.0]
