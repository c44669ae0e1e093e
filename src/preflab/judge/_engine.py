"""The call engine: cached, bounded, budgeted execution of many chat calls.

Calls whose key is in the cache cost nothing and are not sent. The rest go through a pool of
``concurrency`` workers; each answer is written to the cache (committed) and to the JSONL log
the moment it arrives, so a crash loses only the calls in flight. A failed call (retries
exhausted or a non-retryable error) is logged but never cached: the next run asks again.
With a budget, no new call starts once the money spent plus the estimated cost of the calls in
flight reaches it; calls not started are reported as ``pending``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from preflab.judge._cache import AnswerCache, CachedAnswer, cache_key
from preflab.judge._client import CallError, ChatClient
from preflab.judge._config import JudgeConfig
from preflab.judge._parse import Parser, Verdict

logger = logging.getLogger(__name__)

ProgressFn = Callable[..., None]


@dataclass(frozen=True, slots=True)
class Call:
    """One chat call: model, messages, sample index, and the parser for its reply."""

    model: str
    messages: list[dict[str, str]]
    params: dict[str, Any]
    sample: int = 0
    tag: str = ""
    key: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.key:  # the cache key (see :func:`cache_key`), computed once
            object.__setattr__(
                self, "key", cache_key(self.model, self.messages, self.params, self.sample)
            )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one call. ``status``: ok, failed or pending (never started)."""

    status: str
    reply: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    latency: float = 0.0
    cached: bool = False
    error: str | None = None


@dataclass
class EngineStats:
    """Counters of one engine run (mutable while it runs)."""

    n_calls: int = 0
    n_cached: int = 0
    n_new: int = 0
    n_failed: int = 0
    n_pending: int = 0
    cost: float = 0.0
    cost_cached: float = 0.0
    stopped: str | None = None
    _inflight: float = field(default=0.0, init=False, repr=False)
    _out_tokens: list[int] = field(default_factory=list, init=False, repr=False)


async def execute(
    calls: Sequence[Call],
    judge: JudgeConfig,
    cache: AnswerCache,
    *,
    parse: Parser | None = None,
    log: IO[str] | None = None,
    budget: float | None = None,
    progress: ProgressFn | None = None,
    stats: EngineStats | None = None,
    rng: int | None = None,
) -> dict[str, Outcome]:
    """Run ``calls`` (duplicates by key run once) and return an outcome per key."""
    st = stats if stats is not None else EngineStats()
    by_key: dict[str, Call] = {}
    for c in calls:
        by_key.setdefault(c.key, c)
    st.n_calls += len(by_key)
    out: dict[str, Outcome] = {}
    for k, a in cache.get_many(by_key).items():
        out[k] = Outcome(
            "ok", a.reply, a.input_tokens, a.output_tokens, a.cost, a.latency, cached=True
        )
        st.n_cached += 1
        st.cost_cached += a.cost
    if progress is not None and out:
        progress(advance=len(out), cost=st.cost)
    queue = deque(k for k in by_key if k not in out)
    if not queue:
        return out
    async with ChatClient(
        judge.base_url,
        judge.api_key(),
        concurrency=judge.concurrency,
        timeout=judge.timeout,
        max_retries=judge.max_retries,
        backoff_base=judge.backoff_base,
        backoff_max=judge.backoff_max,
        rpm=judge.rpm,
        tpm=judge.tpm,
        rng=rng,
        transport=judge.transport,
    ) as client:

        def estimate(call: Call) -> float:
            n_in = sum(len(m["content"]) for m in call.messages) // 4
            n_out = (
                sum(st._out_tokens) / len(st._out_tokens)
                if st._out_tokens
                else float(judge.max_tokens)
            )
            return judge.cost(n_in, int(n_out))

        async def worker(slot: int) -> None:
            while queue:
                call = by_key[queue[0]]
                est = estimate(call) if budget is not None else 0.0
                if budget is not None and st.cost + st._inflight + est > budget:
                    st.stopped = "budget"
                    return
                queue.popleft()
                st._inflight += est
                try:
                    res = await client.chat(call.model, call.messages, call.params, slot=slot)
                except CallError as exc:
                    st.n_failed += 1
                    out[call.key] = Outcome("failed", error=str(exc))
                    _log(log, call, None, None, error=str(exc), attempts=exc.attempts)
                    logger.warning("call failed after %d attempt(s): %s", exc.attempts, exc)
                else:
                    cost = judge.cost(res.input_tokens, res.output_tokens)
                    cache.put(
                        call.key,
                        call.model,
                        CachedAnswer(
                            res.text, res.input_tokens, res.output_tokens, cost, res.latency
                        ),
                    )
                    st.n_new += 1
                    st.cost += cost
                    st._out_tokens.append(res.output_tokens)
                    o = Outcome(
                        "ok", res.text, res.input_tokens, res.output_tokens, cost, res.latency
                    )
                    out[call.key] = o
                    _log(log, call, o, parse(res.text) if parse else None, attempts=res.attempts)
                finally:
                    st._inflight -= est
                if progress is not None:
                    progress(advance=1, cost=st.cost)

        await asyncio.gather(*(worker(i) for i in range(min(judge.concurrency, len(queue)))))
    for k in queue:
        out[k] = Outcome("pending")
    st.n_pending += len(queue)
    return out


def _log(
    log: IO[str] | None,
    call: Call,
    o: Outcome | None,
    v: Verdict | None,
    *,
    error: str | None = None,
    attempts: int = 1,
) -> None:
    if log is None:
        return
    rec: dict[str, Any] = {
        "time": time.time(),
        "key": call.key,
        "tag": call.tag,
        "model": call.model,
        "sample": call.sample,
        "messages": call.messages,
        "params": call.params,
        "attempts": attempts,
    }
    if o is None:
        rec.update(status="failed", error=error)
    else:
        rec.update(
            status="ok",
            reply=o.reply,
            input_tokens=o.input_tokens,
            output_tokens=o.output_tokens,
            latency=round(o.latency, 4),
            cost=o.cost,
        )
        if v is not None:
            rec["parse"] = {"status": v.status, "label": v.label, "score": v.score}
    log.write(json.dumps(rec, ensure_ascii=False) + "\n")
    log.flush()


def run_calls(
    calls: Sequence[Call],
    judge: JudgeConfig,
    cache: AnswerCache | str | Path,
    *,
    parse: Parser | None = None,
    log: str | Path | None = None,
    budget: float | None = None,
    progress: ProgressFn | None = None,
    rng: int | None = None,
) -> tuple[dict[str, Outcome], EngineStats]:
    """Synchronous wrapper of :func:`execute` (opens the cache and log files it is given)."""
    st = EngineStats()
    with open_sinks(cache, log) as (db, fh):
        out = asyncio.run(execute(calls, judge, db, parse=parse, log=fh, budget=budget,
                                  progress=progress, stats=st, rng=rng))
    return out, st


@contextmanager
def open_sinks(cache: AnswerCache | str | Path,
               log: str | Path | None) -> Iterator[tuple[AnswerCache, IO[str] | None]]:
    """The answer cache (opened here from a path, or the one given) and the JSONL call log
    (appended to), closed again on exit; a cache passed in open stays open."""
    own = not isinstance(cache, AnswerCache)
    db = AnswerCache(cache) if not isinstance(cache, AnswerCache) else cache
    fh = open(log, "a", encoding="utf-8") if log is not None else None  # noqa: SIM115
    try:
        yield db, fh
    finally:
        if fh is not None:
            fh.close()
        if own:
            db.close()
