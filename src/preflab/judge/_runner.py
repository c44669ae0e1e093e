"""``run_judge``: turn a pairs (or responses) table into judge verdicts, comparisons and scores.

Pairwise judging follows Arena-Hard-Auto [Li24]_: every pair is judged in two games, the
original order (game 1) and swapped (game 2); each parsed game becomes one comparisons row
whose ``model_a`` is the response shown first, with weight 3 for a strong verdict
(``A>>B``/``B>>A``) and 1 otherwise. Pointwise (rubric) templates give a scores table.
With ``n_samples > 1`` each game is asked several times and the samples are combined
(majority vote or mean, see :func:`preflab.judge.aggregate`). Unparsed and failed judgments
are kept in the verdicts table with their raw replies and never become comparisons or scores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from preflab._errors import DataError
from preflab.judge._cache import AnswerCache
from preflab.judge._config import JudgeConfig
from preflab.judge._engine import Call, EngineStats, Outcome, ProgressFn, execute, open_sinks
from preflab.judge._pairs import as_rows, verdicts_to_comparisons
from preflab.judge._parse import Verdict, aggregate, get_parser
from preflab.judge._templates import REFERENCE_TEMPLATE

PAIR_COLUMNS = ("prompt_id", "prompt", "model_a", "response_a", "model_b", "response_b")
POINT_COLUMNS = ("prompt_id", "prompt", "model", "response")


@dataclass(frozen=True, slots=True)
class JudgeRun:
    """Result of :func:`run_judge`.

    ``verdicts`` has one row per judgment (pair x game, or response) with ``status`` ok,
    unparsed, failed or pending; ``comparisons`` (pairwise) or ``scores`` (pointwise) hold the
    parsed ones. ``cost`` is what this run paid; ``cost_cached`` what the cached answers had cost.
    """

    verdicts: pa.Table
    comparisons: pa.Table | None
    scores: pa.Table | None
    n_calls: int
    n_cached: int
    n_new: int
    n_failed: int
    n_pending: int
    n_unparsed: int
    cost: float
    cost_cached: float
    stopped: str | None

    @property
    def complete(self) -> bool:
        """True when every judgment got an answer (parsed or not)."""
        return self.n_failed == 0 and self.n_pending == 0

    def summary(self) -> dict[str, Any]:
        """Counts and costs as a plain dict."""
        return {
            k: getattr(self, k)
            for k in (
                "n_calls",
                "n_cached",
                "n_new",
                "n_failed",
                "n_pending",
                "n_unparsed",
                "cost",
                "cost_cached",
                "stopped",
            )
        } | {"complete": self.complete}


def _check(rows: list[dict[str, Any]], cols: Sequence[str], need_ref: bool) -> None:
    needed = [*cols, "reference"] if need_ref else list(cols)
    for i, r in enumerate(rows):
        for c in needed:
            if r.get(c) is None:
                fix = (
                    'Add a reference column, or set reference = "generate".'
                    if c == "reference"
                    else f"Every row needs {', '.join(cols)}."
                )
                raise DataError(f"missing value for {c!r}", row=i, field=c, fix=fix)


async def arun_judge(
    items: pa.Table | Sequence[dict[str, Any]],
    judge: JudgeConfig,
    *,
    cache: AnswerCache,
    both_orders: bool = True,
    log: IO[str] | None = None,
    budget: float | None = None,
    progress: ProgressFn | None = None,
    rng: int | None = None,
) -> JudgeRun:
    """Async :func:`run_judge` (for callers already inside an event loop)."""
    rows = as_rows(items)
    tpl = judge.template
    pairwise = tpl.kind == "pairwise"
    _check(rows, PAIR_COLUMNS if pairwise else POINT_COLUMNS, judge.reference == "column")
    params = judge.sampling()
    parse = get_parser(judge.parser or tpl.parser)
    st = EngineStats()
    refs: dict[str, str | None] = {}
    games = (1, 2) if pairwise and both_orders else (1,)
    n_total = len(rows) * len(games) * judge.n_samples
    if tpl.needs_reference and judge.reference == "generate":
        prompts = {r["prompt_id"]: r["prompt"] for r in rows}
        ref_model = judge.reference_model or judge.model
        ref_calls = {
            pid: Call(ref_model, REFERENCE_TEMPLATE.render(prompt=p), params, tag=f"ref:{pid}")
            for pid, p in prompts.items()
        }
        if progress is not None:
            progress(advance=0, total=n_total + len(ref_calls))
        res = await execute(
            list(ref_calls.values()),
            judge,
            cache,
            log=log,
            budget=budget,
            progress=progress,
            stats=st,
            rng=rng,
        )
        refs = {
            pid: (res[c.key].reply if res[c.key].status == "ok" else None)
            for pid, c in ref_calls.items()
        }
    elif progress is not None:
        progress(advance=0, total=n_total)

    plan: list[tuple[int, int, list[Call]]] = []
    calls: list[Call] = []
    blocked: set[tuple[int, int]] = set()
    for i, r in enumerate(rows):
        values = {"prompt": str(r["prompt"])}
        if tpl.needs_reference:
            ref = refs.get(r["prompt_id"]) if judge.reference == "generate" else r.get("reference")
            if ref is None:
                blocked.update((i, g) for g in games)
                continue
            values["reference"] = str(ref)
        for g in games:
            if pairwise:
                a, b = ("response_a", "response_b") if g == 1 else ("response_b", "response_a")
                msgs = tpl.render(**values, response_a=str(r[a]), response_b=str(r[b]))
            else:
                msgs = tpl.render(**values, response=str(r["response"]))
            cs = [
                Call(judge.model, msgs, params, s, tag=f"{r['prompt_id']}:{g}")
                for s in range(judge.n_samples)
            ]
            plan.append((i, g, cs))
            calls.extend(cs)
    outcomes = await execute(
        calls,
        judge,
        cache,
        parse=parse,
        log=log,
        budget=budget,
        progress=progress,
        stats=st,
        rng=rng,
    )
    return _assemble(rows, plan, blocked, outcomes, judge, pairwise, st, parse)


def _assemble(
    rows: list[dict[str, Any]],
    plan: list[tuple[int, int, list[Call]]],
    blocked: set[tuple[int, int]],
    outcomes: dict[str, Outcome],
    judge: JudgeConfig,
    pairwise: bool,
    st: EngineStats,
    parse: Any,
) -> JudgeRun:
    name = judge.judge_name
    aspect = judge.template.aspect
    vrows: list[dict[str, Any]] = []
    n_unparsed = 0

    def base(i: int, g: int) -> dict[str, Any]:
        r = rows[i]
        if pairwise:
            first, second = ("model_a", "model_b") if g == 1 else ("model_b", "model_a")
            d = {
                "prompt_id": str(r["prompt_id"]),
                "model_a": r[first],
                "model_b": r[second],
                "game": g,
                "len_a": len(str(r["response" + first[-2:]])),  # characters, for the audit
                "len_b": len(str(r["response" + second[-2:]])),
            }
        else:
            d = {"prompt_id": str(r["prompt_id"]), "model": r["model"]}
        if r.get("category") is not None:
            d["category"] = r["category"]
        return d

    for i, g in sorted(blocked):
        vrows.append(
            base(i, g)
            | {
                "status": "failed",
                "label": None,
                "score": None,
                "raw": None,
                "n_samples": 0,
                "n_parsed": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cost": 0.0,
                "error": "no reference answer",
            }
        )
    for i, g, cs in plan:
        outs = [outcomes[c.key] for c in cs]
        answered = [o for o in outs if o.status == "ok"]
        vs: list[Verdict] = [parse(o.reply) for o in answered]
        if len(answered) < len(outs):
            status = "pending" if any(o.status == "pending" for o in outs) else "failed"
            v = Verdict("failed", "\n---\n".join(x.raw for x in vs))
        else:
            v = aggregate(vs, judge.aggregate)
            status = v.status
        if status == "unparsed":
            n_unparsed += 1
        errors = [o.error for o in outs if o.error]
        vrows.append(
            base(i, g)
            | {
                "status": status,
                "label": v.label if status == "ok" else None,
                "score": v.score if status == "ok" else None,
                "raw": v.raw or None,
                "n_samples": len(outs),
                "n_parsed": sum(x.status == "ok" for x in vs),
                "input_tokens": sum(o.input_tokens for o in outs),
                "output_tokens": sum(o.output_tokens for o in outs),
                "cost": sum(o.cost for o in outs),
                "error": errors[0] if errors else None,
            }
        )
    for r in vrows:
        r["judge"] = name
    verdicts = pa.Table.from_pylist(vrows)
    comparisons = scores = None
    ok = [r for r in vrows if r["status"] == "ok"]
    if pairwise:
        comparisons = verdicts_to_comparisons(ok, aspect=aspect)
    else:
        scores = pa.Table.from_pylist(
            [
                {
                    "prompt_id": r["prompt_id"],
                    "model": r["model"],
                    "score": float(r["score"]),
                    "judge": name,
                    "aspect": aspect,
                }
                for r in ok
            ],
            schema=pa.schema(
                [
                    ("prompt_id", pa.string()),
                    ("model", pa.string()),
                    ("score", pa.float64()),
                    ("judge", pa.string()),
                    ("aspect", pa.string()),
                ]
            ),
        )
    return JudgeRun(
        verdicts,
        comparisons,
        scores,
        st.n_calls,
        st.n_cached,
        st.n_new,
        st.n_failed,
        st.n_pending,
        n_unparsed,
        st.cost,
        st.cost_cached,
        st.stopped,
    )


def run_judge(
    items: pa.Table | Sequence[dict[str, Any]],
    judge: JudgeConfig,
    *,
    cache: AnswerCache | str | Path = ":memory:",
    both_orders: bool = True,
    log: str | Path | None = None,
    budget: float | None = None,
    progress: ProgressFn | None = None,
    rng: int | None = None,
) -> JudgeRun:
    """Judge every pair (pairwise template) or response (pointwise template) in ``items``.

    Parameters
    ----------
    items:
        Pairs ``prompt_id, prompt, model_a, response_a, model_b, response_b`` (optional
        ``category``, ``reference``), or for pointwise templates ``prompt_id, prompt, model,
        response``. Use :func:`pairs_from_responses` for a responses table and a baseline.
    judge:
        The judge (endpoint, model, template, sampling, prices, limits).
    cache:
        SQLite file of received answers: a re-run pays only for answers not in it (the
        default ``":memory:"`` lasts for this call only: pass a path to be able to resume).
    both_orders:
        Judge each pair in both orders (two games); pairwise only.
    log:
        JSONL file; one line per new call (messages, reply, parse, tokens, latency, cost).
    budget:
        USD cap on new spending; the run stops starting calls when it would pass it.
    progress:
        ``progress(advance=1, total=None, cost=...)`` callback.
    rng:
        Seed of the retry jitter.
    """
    with open_sinks(cache, log) as (db, fh):
        return asyncio.run(arun_judge(items, judge, cache=db, both_orders=both_orders, log=fh,
                                      budget=budget, progress=progress, rng=rng))
