"""The runner's guarantees against a misbehaving fake OpenAI-compatible server (127.0.0.1)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from _judge_helpers import fast_judge, make_pairs

from preflab.judge import (
    AnswerCache,
    CallError,
    ChatClient,
    JudgeConfig,
    TokenBucket,
    pairs_from_responses,
    retry_after_seconds,
    run_judge,
)
from preflab.judge._fake_server import FakeOpenAI, default_reply


def expected_label(messages: list[dict[str, str]]) -> str:
    return default_reply(messages, "").split("[[")[1].split("]]")[0]


@pytest.mark.parametrize("transport", ["stream", "httpx"])
def test_two_games_become_weighted_comparisons(server: FakeOpenAI, transport: str) -> None:
    pairs = make_pairs(12, category="cat")
    judge = fast_judge(server.url, transport=transport)
    run = run_judge(pairs, judge)
    assert run.complete and run.n_new == 24 and run.n_unparsed == 0
    v = run.verdicts.to_pylist()
    assert len(v) == 24 and {r["game"] for r in v} == {1, 2}
    # game 2 shows model_b first
    g2 = [r for r in v if r["game"] == 2]
    assert all(r["model_a"] == "beta" and r["model_b"] == "alpha" for r in g2)
    comps = run.comparisons
    assert comps is not None and comps.num_rows == 24
    for row, ver in zip(comps.to_pylist(), v, strict=True):
        label = ver["label"]
        assert row["winner"] == {"A": "model_a", "B": "model_b"}.get(
            label[0] if "=" not in label else "", "tie"
        )
        assert row["weight"] == (3.0 if ">>" in label else 1.0)
        assert row["judge"] == "fake-judge" and row["category"] == "cat"


def test_verdicts_match_server_replies(server: FakeOpenAI) -> None:
    pairs = make_pairs(5)
    judge = fast_judge(server.url)
    run = run_judge(pairs, judge, both_orders=False)
    tpl = judge.template
    for r, ver in zip(pairs, run.verdicts.to_pylist(), strict=True):
        msgs = tpl.render(
            prompt=r["prompt"], response_a=r["response_a"], response_b=r["response_b"]
        )
        assert ver["label"] == expected_label(msgs)


def test_retries_429_with_retry_after_then_succeeds() -> None:
    with FakeOpenAI(fail_first=2, fail_status=429, retry_after=0.2) as srv:
        t0 = time.perf_counter()
        run = run_judge(make_pairs(3), fast_judge(srv.url), both_orders=False)
        elapsed = time.perf_counter() - t0
    assert run.complete and run.n_new == 3
    assert srv.n_requests == 9  # 2 failures + 1 success each
    assert elapsed >= 0.4  # two waits of at least Retry-After each (a floor, not a speed test)


@pytest.mark.parametrize(
    "kw",
    [
        {"fail_first": 2, "fail_status": 500},
        {"fail_first": 1, "fail_status": 503},
        {"drop_first": 2},
        {"hang_first": 1, "hang_seconds": 5.0},
        {"garbage_first": 2},
    ],
)
def test_transient_faults_are_retried(kw: dict[str, float]) -> None:
    with FakeOpenAI(**kw) as srv:  # type: ignore[arg-type]
        run = run_judge(make_pairs(4), fast_judge(srv.url, timeout=0.5), both_orders=False)
    assert run.complete and run.n_new == 4 and run.n_failed == 0


def test_failed_calls_are_not_cached_and_retried_on_next_run(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    log = tmp_path / "log.jsonl"
    with FakeOpenAI(fail_first=3, fail_status=500) as srv:
        run = run_judge(
            make_pairs(4), fast_judge(srv.url, max_retries=1), cache=db, log=log, both_orders=False
        )
        assert run.n_failed == 4 and not run.complete
        assert run.comparisons is not None and run.comparisons.num_rows == 0
        assert {r["status"] for r in run.verdicts.to_pylist()} == {"failed"}
        with AnswerCache(db) as c:
            assert len(c) == 0
        lines = [json.loads(x) for x in log.read_text().splitlines()]
        assert [x["status"] for x in lines] == ["failed"] * 4
        # the server now answers (3rd attempt fails, 4th succeeds): a re-run completes
        run2 = run_judge(
            make_pairs(4), fast_judge(srv.url, max_retries=1), cache=db, both_orders=False
        )
    assert run2.complete and run2.n_new == 4 and run2.n_cached == 0


def test_non_retryable_error_fails_at_once() -> None:
    with FakeOpenAI(fail_first=5, fail_status=401) as srv:
        run = run_judge(make_pairs(2), fast_judge(srv.url), both_orders=False)
        assert srv.n_requests == 2
    assert run.n_failed == 2


def test_malformed_replies_are_kept_unparsed_and_counted(tmp_path: Path) -> None:
    with FakeOpenAI(malformed_rate=0.3) as srv:
        run = run_judge(make_pairs(40), fast_judge(srv.url), log=tmp_path / "l.jsonl")
    v = run.verdicts.to_pylist()
    unparsed = [r for r in v if r["status"] == "unparsed"]
    assert 5 < len(unparsed) < 45 and run.n_unparsed == len(unparsed)
    assert all(r["raw"] and r["label"] is None for r in unparsed)
    assert run.comparisons is not None and run.comparisons.num_rows == 80 - len(unparsed)
    logged = [json.loads(x) for x in (tmp_path / "l.jsonl").read_text().splitlines()]
    assert sum(x["parse"]["status"] == "unparsed" for x in logged) == len(unparsed)
    assert all(
        {"messages", "reply", "input_tokens", "output_tokens", "latency", "cost"} <= set(x)
        for x in logged
    )


def test_rerun_pays_nothing_for_cached_answers(tmp_path: Path, server: FakeOpenAI) -> None:
    db = tmp_path / "c.sqlite"
    judge = fast_judge(server.url, price_input=1.0, price_output=2.0)
    run1 = run_judge(make_pairs(10), judge, cache=db)
    n = server.n_requests
    run2 = run_judge(make_pairs(10), judge, cache=db)
    assert server.n_requests == n == 20
    assert run2.n_cached == 20 and run2.n_new == 0 and run2.cost == 0.0
    assert run2.cost_cached == pytest.approx(run1.cost) and run1.cost > 0
    assert run2.verdicts.drop(["cost"]).equals(run1.verdicts.drop(["cost"]))
    # a changed sampling setting is a different question
    run3 = run_judge(make_pairs(10), judge.with_(temperature=0.5), cache=db)
    assert run3.n_new == 20


def test_budget_cap_stops_cleanly(tmp_path: Path, server: FakeOpenAI) -> None:
    # every call costs about 100-200 input tokens at $1000/M -> ~$0.15; budget allows a few
    judge = fast_judge(
        server.url, price_input=1000.0, price_output=1000.0, concurrency=2, max_tokens=10
    )
    run = run_judge(make_pairs(20), judge, cache=tmp_path / "c.sqlite", budget=1.0)
    assert run.stopped == "budget" and run.n_pending > 0 and not run.complete
    assert run.cost <= 1.0
    assert run.n_new + run.n_pending == 40
    statuses = {r["status"] for r in run.verdicts.to_pylist()}
    assert "pending" in statuses
    # raising the budget finishes the job without paying twice
    run2 = run_judge(make_pairs(20), judge, cache=tmp_path / "c.sqlite")
    assert run2.complete and run2.n_cached == run.n_new


def test_multi_sample_majority_and_mean(server: FakeOpenAI) -> None:
    pairs = make_pairs(6)
    run = run_judge(pairs, fast_judge(server.url, n_samples=3, temperature=0.7), both_orders=False)
    assert run.n_new == 18
    assert all(r["n_samples"] == 3 for r in run.verdicts.to_pylist())
    rows = [
        {
            "prompt_id": f"q{i}",
            "prompt": "Write a sum function",
            "model": "m",
            "response": f"def f(a, b): return a + b  # {i}",
        }
        for i in range(5)
    ]
    judge = fast_judge(
        server.url,
        template=__import__("preflab.judge", fromlist=["x"]).load_template("ice-correctness"),
        n_samples=3,
        aggregate="mean",
        temperature=1.0,
    )
    run2 = run_judge(rows, judge)
    assert run2.scores is not None and run2.scores.num_rows == 5
    assert all(0 <= s <= 4 for s in run2.scores.column("score").to_pylist())


def test_reference_generated_first(server: FakeOpenAI) -> None:
    from preflab.judge import load_template

    judge = fast_judge(
        server.url, template=load_template("arena-hard-reference"), reference="generate"
    )
    run = run_judge(make_pairs(3), judge)
    assert run.n_new == 3 + 6 and run.complete
    # the reference reply is in the judge prompts
    assert run.comparisons is not None and run.comparisons.num_rows == 6


def test_pairs_from_responses_uses_baseline_first() -> None:
    responses = [
        {"prompt_id": p, "model": m, "text": f"{m}-{p}", "prompt": f"Q{p}"}
        for p in ("1", "2")
        for m in ("base", "x", "y")
    ]
    pairs = pairs_from_responses(responses, "base").to_pylist()
    assert len(pairs) == 4 and all(
        r["model_a"] == "base" and r["response_a"] == f"base-{r['prompt_id']}" for r in pairs
    )
    from preflab._errors import DataError

    with pytest.raises(DataError, match="baseline"):
        pairs_from_responses(responses, "nope")


def test_bad_pairs_name_row_and_field(server: FakeOpenAI) -> None:
    from preflab._errors import DataError

    pairs = make_pairs(3)
    pairs[1]["response_b"] = None
    with pytest.raises(DataError, match="row 1.*response_b"):
        run_judge(pairs, fast_judge(server.url))


def test_retry_after_parsing_and_backoff_bounds() -> None:
    assert retry_after_seconds("2.5") == 2.5
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    c = ChatClient("http://127.0.0.1:9/v1", backoff_base=1.0, backoff_max=8.0, rng=0)
    waits = [c.backoff(a, None) for a in range(10)]
    assert all(0 <= w <= min(8.0, 2.0**a) for a, w in enumerate(waits))
    assert c.backoff(0, 5.0) >= 5.0


def test_connection_refused_is_a_call_error() -> None:
    import asyncio

    async def go() -> None:
        async with ChatClient("http://127.0.0.1:9/v1", max_retries=1, backoff_base=0.01) as c:
            await c.chat("m", [{"role": "user", "content": "x"}], {})

    with pytest.raises(CallError):
        asyncio.run(go())


def test_token_bucket_limits_rate() -> None:
    import asyncio

    async def go() -> float:
        b = TokenBucket(per_minute=600)  # 10/s, starts full with 600
        b.tokens = 0
        t0 = time.perf_counter()
        for _ in range(3):
            await b.take(1)
        return time.perf_counter() - t0

    assert asyncio.run(go()) >= 0.25  # 3 tokens at 10/s from empty


def test_missing_api_key_env_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from preflab._errors import DataError

    monkeypatch.delenv("PREFLAB_TEST_KEY", raising=False)
    j = JudgeConfig(model="m", api_key_env="PREFLAB_TEST_KEY")
    with pytest.raises(DataError, match="PREFLAB_TEST_KEY"):
        j.api_key()


def test_progress_reports_total_and_cost(server: FakeOpenAI) -> None:
    calls: list[dict[str, float | None]] = []

    def progress(advance: float = 1, total: float | None = None, **fields: float) -> None:
        calls.append({"advance": advance, "total": total, **fields})

    judge = fast_judge(server.url, price_input=1.0, price_output=1.0)
    run = run_judge(make_pairs(5), judge, progress=progress)
    assert calls[0]["total"] == 10
    assert sum(float(c["advance"] or 0) for c in calls) == 10
    assert calls[-1]["cost"] == pytest.approx(run.cost) and run.cost > 0


def test_transport_choice_honours_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    from preflab.judge._transport import HttpxTransport, StreamTransport, make_transports

    for var in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    assert isinstance(make_transports("http://127.0.0.1:1/v1", {}, 1.0, 1)[0], StreamTransport)
    assert isinstance(make_transports("https://api.example.com/v1", {}, 1.0, 1)[0], HttpxTransport)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    assert isinstance(make_transports("http://10.0.0.5:8000/v1", {}, 1.0, 1)[0], HttpxTransport)
    monkeypatch.setenv("NO_PROXY", "10.0.0.5")
    assert isinstance(make_transports("http://10.0.0.5:8000/v1", {}, 1.0, 1)[0], StreamTransport)
