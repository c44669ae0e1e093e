"""Prompt quality: BenchBuilder's seven criteria, one point each, judged by an LLM [Li24]_.

The judge reads one prompt and lists the criteria it satisfies as a Python-style array
(``Criteria Satisfied: [1, 2, 4, 6, 7]``); the prompt's quality score is the number of
distinct criteria listed (0..7). Wording of the template is ours; the criteria, the scale and
the answer format are BenchBuilder's.

Parsing never guesses (as :mod:`preflab.judge._parse`): every bracketed integer list in the
reply is read; all of them must name the same set of criteria in 1..7, else the reply is
``unparsed`` (BenchBuilder's released code scores such replies as an empty list, i.e. 0; we
keep them apart, count them, and never score them). Without brackets, a line
``Criteria satisfied: 1, 2, 4`` is read the same way. ``[]`` is a parsed score of 0.

The template and parser are registered with the judge package through its public tables
(``preflab.judge.PARSERS``) under :data:`QUALITY_PARSER`, so a judge TOML can name the parser
and the runner caches, resumes, retries and budgets the annotation like any judging run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from preflab.judge import PARSERS, AnswerCache, JudgeConfig, Template, Verdict, run_judge
from preflab.judge._engine import ProgressFn

CRITERIA: tuple[str, ...] = (
    "specificity",
    "domain_knowledge",
    "complexity",
    "problem_solving",
    "creativity",
    "technical_accuracy",
    "real_world",
)
"""BenchBuilder's seven criteria, in their numbering 1..7."""

QUALITY_PARSER = "benchbuilder-criteria"
QUALITY_MODEL_COLUMN = "benchbuilder"

_SYSTEM = """You assess how well a user prompt can test the abilities of advanced AI \
assistants. Check the prompt against these seven criteria:
1. Specificity: does the prompt ask for a specific output (code, a mathematical solution, a \
logical simplification, a problem-solving strategy, a hardware recommendation, ...)?
2. Domain knowledge: does answering it require knowledge of one or more specific domains?
3. Complexity: does it have several levels of reasoning, components or variables?
4. Problem-solving: must the assistant actively work out a solution rather than recite facts?
5. Creativity: does it call for a creative approach or a solution tailored to the user's needs?
6. Technical accuracy: does a good answer need a high degree of technical precision and \
correctness?
7. Real-world application: does it relate to a practical, real-world task or use?
List the numbers of the criteria that the prompt satisfies as a Python array, and nothing \
else. For example: "Criteria Satisfied: [1, 2, 4, 6, 7]"."""

QUALITY_TEMPLATE = Template(
    name="benchbuilder-quality",
    kind="pointwise",
    system=_SYSTEM,
    user="<|User Prompt|>\n{prompt}\n<|End of User Prompt|>",
    parser=QUALITY_PARSER,
    aspect="prompt-quality",
)
"""The quality prompt (the runner fills ``{prompt}``; there is no response to judge)."""

_LIST = re.compile(r"\[\s*([^\[\]]*?)\s*\]")
_LINE = re.compile(r"criteria(?:\s+satisfied)?\s*[:=]\s*\**\s*[\[(]?\s*(\d[\d\s,]*)", re.I)


def _numbers(body: str) -> frozenset[int] | None:
    """The criteria named in a list body (``"1, 2, 4"``); None if anything else is in it."""
    body = body.strip().strip("*`").strip()
    if not body:
        return frozenset()
    parts = [p.strip().strip("'\"") for p in body.split(",")]
    if parts and parts[-1] == "":
        parts = parts[:-1]
    if not all(p.isdigit() for p in parts):
        return None
    vals = frozenset(int(p) for p in parts)
    return vals if all(1 <= v <= 7 for v in vals) else None


def parse_criteria_set(reply: str) -> frozenset[int] | None:
    """The set of criteria a reply lists, or None when it does not parse (module docstring)."""
    lists = _LIST.findall(reply)
    if lists:
        found = {_numbers(b) for b in lists}
        numeric = {f for f in found if f is not None}
        if len(numeric) == 1 and (len(found) == 1 or _only_bad_are_words(lists)):
            return next(iter(numeric))
        return None
    m = _LINE.findall(reply)
    if m:
        found_line = {_numbers(b.rstrip(" ,")) for b in m}
        if len(found_line) == 1 and None not in found_line:
            return next(iter(found_line))
    return None


def _only_bad_are_words(lists: list[str]) -> bool:
    """True when every list that is not numeric has no digits (e.g. the ``[...]`` of an echo)."""
    return all(_numbers(b) is not None or not re.search(r"\d", b) for b in lists)


def parse_criteria(reply: str) -> Verdict:
    """Judge-package parser: score = number of criteria listed (0..7), else unparsed."""
    s = parse_criteria_set(reply)
    if s is None:
        return Verdict("unparsed", reply)
    return Verdict("ok", reply, score=float(len(s)))


PARSERS.setdefault(QUALITY_PARSER, parse_criteria)


@dataclass(frozen=True, slots=True)
class Quality:
    """Per prompt: ``status`` (ok, unparsed, failed, pending), ``score`` (NaN unless ok),
    ``criteria`` ``(n, 7)`` booleans (all False unless ok), and the ``raw`` replies; plus
    the runner's counts and costs in ``run``."""

    prompt_ids: tuple[str, ...]
    status: tuple[str, ...]
    score: npt.NDArray[np.float64]
    criteria: npt.NDArray[np.bool_]
    raw: tuple[str | None, ...]
    run: dict[str, Any]

    @property
    def n_unparsed(self) -> int:
        """Replies that did not parse (kept, never scored)."""
        return sum(s == "unparsed" for s in self.status)


def _combine(raw: str, n_samples: int) -> frozenset[int] | None:
    """Criteria from one or several samples: a criterion counts when most parsed samples list it."""
    if n_samples <= 1:
        return parse_criteria_set(raw)
    sets = [s for s in (parse_criteria_set(r) for r in raw.split("\n---\n")) if s is not None]
    if not sets:
        return None
    return frozenset(c for c in range(1, 8) if 2 * sum(c in s for s in sets) > len(sets))


def annotate_quality(
    prompt_ids: Sequence[str],
    texts: Sequence[str],
    judge: JudgeConfig,
    *,
    cache: AnswerCache | str | Path = ":memory:",
    log: str | Path | None = None,
    budget: float | None = None,
    progress: ProgressFn | None = None,
    rng: int | None = None,
) -> Quality:
    """Score every prompt on the seven criteria with ``judge`` through the judge runner.

    The judge's template and parser are replaced by :data:`QUALITY_TEMPLATE` and
    ``benchbuilder-criteria`` unless its template is already a pointwise one with that parser
    (a user's own wording). Answers are cached in ``cache`` (a re-run pays only for what is
    missing) and logged to ``log``. With ``n_samples > 1`` a criterion counts when a majority
    of the parsed samples list it.
    """
    if not (judge.template.kind == "pointwise" and
            (judge.parser or judge.template.parser) == QUALITY_PARSER):
        judge = judge.with_(template=QUALITY_TEMPLATE, parser=QUALITY_PARSER)
    items = [
        {"prompt_id": str(p), "prompt": t, "model": QUALITY_MODEL_COLUMN, "response": ""}
        for p, t in zip(prompt_ids, texts, strict=True)
    ]
    run = run_judge(items, judge, cache=cache, both_orders=False, log=log, budget=budget,
                    progress=progress, rng=rng)
    by_id = {r["prompt_id"]: r for r in run.verdicts.to_pylist()}
    n = len(items)
    status: list[str] = []
    score = np.full(n, np.nan)
    crit = np.zeros((n, len(CRITERIA)), dtype=bool)
    raws: list[str | None] = []
    for i, it in enumerate(items):
        v = by_id[it["prompt_id"]]
        st = str(v["status"])
        raw = v.get("raw")
        raws.append(raw)
        if st == "ok" and raw is not None:
            s = _combine(raw, judge.n_samples)
            if s is None:
                st = "unparsed"
            else:
                score[i] = float(len(s))
                for c in s:
                    crit[i, c - 1] = True
        status.append(st)
    return Quality(tuple(str(p) for p in prompt_ids), tuple(status), score, crit, tuple(raws),
                   run.summary())
