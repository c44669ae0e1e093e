"""Parsing judge replies into verdicts. A reply that does not parse stays a reply.

Parsers never guess: a reply without a recognisable verdict becomes
``Verdict(status="unparsed", raw=reply)`` and is counted, never mapped to a default score
(ICE-Score's released scores map such replies to 0 [Zhuo24]_; we keep them apart).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

PAIRWISE_LABELS: tuple[str, ...] = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
"""Arena-Hard's verdict scale, strongest preference for A first [Li24]_."""

PAIRWISE_VALUE: dict[str, float] = {"A>>B": 2.0, "A>B": 1.0, "A=B": 0.0, "B>A": -1.0, "B>>A": -2.0}
"""Signed strength of a pairwise label (positive favours the response shown as A)."""

_NORMALISE = {
    "A<B": "B>A",
    "A<<B": "B>>A",
    "B<A": "A>B",
    "B<<A": "A>>B",
    "B=A": "A=B",
    "A==B": "A=B",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """One parsed judge reply.

    ``status`` is ``"ok"`` (``label`` for pairwise, ``score`` for pointwise) or ``"unparsed"``
    (then only ``raw`` is meaningful) or ``"failed"`` (the call never got an answer).
    """

    status: Literal["ok", "unparsed", "failed"]
    raw: str
    label: str | None = None
    score: float | None = None


Parser = Callable[[str], Verdict]

_AH_PATTERN = re.compile(r"\[\[([AB<>=]+)\]\]")


def parse_arena_hard(reply: str) -> Verdict:
    """Arena-Hard verdict ``[[A>>B]]`` ... ``[[B>>A]]``; several different verdicts -> unparsed.

    Follows Arena-Hard-Auto's rule: collect every ``[[...]]`` match; accept it only when all
    matches agree [Li24]_.
    """
    found = {(_NORMALISE.get(m, m)) for m in _AH_PATTERN.findall(reply)}
    if len(found) == 1:
        (label,) = found
        if label in PAIRWISE_VALUE:
            return Verdict("ok", reply, label=label, score=PAIRWISE_VALUE[label])
    return Verdict("unparsed", reply)


_NA = re.compile(r"(?:usefulness|correctness|score|rating)\s*:\s*n/?a\b")


def score_parser(low: int, high: int, *, strict: bool = False) -> Parser:
    """Integer score in ``[low, high]``.

    ``strict``: only a reply that is a bare integer (ICE-Score's rule for HumanEval). Otherwise
    a reply that is not a bare integer is read as a (step-by-step) explanation and its *last*
    explicit score statement counts: ``score ... is k``, ``Score: k``, ``scores a k``,
    ``rate ... as k``, ``rated k``, ``Usefulness: k`` / ``usefulness ... is k`` (aspect words),
    ``k/N`` or ``k out of N``; or, when the reply opens with it, ``k -``, ``k:``, ``k (``
    (not ``k.``: that is a step number). A final ``Usefulness: N/A``, a statement outside the
    range, or no statement at all -> unparsed. (ICE-Score's own rule for step-by-step replies takes
    the most common number in sentences mentioning the score, and 0 when there is none.)
    """
    in_range = set(range(low, high + 1))
    statements = [
        re.compile(r"score\b[^.\n\d]{0,60}?(?:is|of|:|=|be)\s*\**\s*(\d+)(?![.,]?\d)"),
        re.compile(r"\bscores?\s+(?:a\s+|an\s+)?(\d+)(?![.,]?\d)"),
        re.compile(r"\brat(?:e|ed|ing)\b[^.\n\d]{0,80}?\bas\s+(?:a\s+|an\s+)?\**(\d+)(?![.,]?\d)"),
        re.compile(r"(?:correctness|usefulness|rating)\s*[:=]\s*\**\s*(\d+)"),
        re.compile(r"\b(\d+)\s*(?:/|out of)\s*" + str(high) + r"\b"),
        re.compile(r"\brated\s+(?:a\s+|an\s+)?(\d+)(?![.,]?\d)"),
        re.compile(r"(?:usefulness|correctness)\b[^.\n\d]{0,60}?\bis\s+(\d+)(?![.,]?\d)"),
        re.compile(r"\A\**\s*(\d+)\s*\**\s*(?:-|–|:|\(|/\s*\d+|out of)"),
    ]

    def parse(reply: str) -> Verdict:
        text = reply.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            v = int(text)
            return (
                Verdict("ok", reply, score=float(v))
                if v in in_range
                else Verdict("unparsed", reply)
            )
        if strict:
            return Verdict("unparsed", reply)
        low_text = text.lower()
        found = [
            (m.start(1), int(m.group(1))) for pat in statements for m in pat.finditer(low_text)
        ]
        if not found:
            return Verdict("unparsed", reply)
        value = max(found)[1]
        return (
            Verdict("ok", reply, score=float(value))
            if value in in_range
            else Verdict("unparsed", reply)
        )

    return parse


def parse_prometheus(reply: str) -> Verdict:
    """Prometheus-style ``[RESULT] k`` with k in 1..5 [Kim24]_ (the last occurrence counts)."""
    found = re.findall(r"\[RESULT\]\s*\(?\s*([1-5])\b", reply)
    if found:
        return Verdict("ok", reply, score=float(found[-1]))
    return Verdict("unparsed", reply)


PARSERS: dict[str, Parser] = {
    "arena-hard": parse_arena_hard,
    "score-0-4": score_parser(0, 4),
    "score-0-4-strict": score_parser(0, 4, strict=True),
    "score-1-5": score_parser(1, 5),
    "score-1-10": score_parser(1, 10),
    "prometheus": parse_prometheus,
}
"""Built-in parsers by name (a judge file names one with ``parser = "..."``)."""


def get_parser(name: str) -> Parser:
    """The parser called ``name``; ``regex:<pattern>`` builds one whose group 1 is the label."""
    if name.startswith("regex:"):
        pattern = re.compile(name[len("regex:") :])

        def parse(reply: str) -> Verdict:
            m = pattern.findall(reply)
            if not m:
                return Verdict("unparsed", reply)
            val = m[-1] if isinstance(m[-1], str) else m[-1][0]
            val = _NORMALISE.get(val, val)
            if val in PAIRWISE_VALUE:
                return Verdict("ok", reply, label=val, score=PAIRWISE_VALUE[val])
            try:
                return Verdict("ok", reply, score=float(val))
            except ValueError:
                return Verdict("unparsed", reply)

        return parse
    try:
        return PARSERS[name]
    except KeyError:
        raise KeyError(
            f"unknown parser {name!r}; use one of {sorted(PARSERS)} or 'regex:<pattern>'"
        ) from None


def aggregate(verdicts: Sequence[Verdict], how: str = "majority") -> Verdict:
    """Combine several samples of one judgment.

    ``majority``: the most common label (pairwise) or score (pointwise) among parsed samples;
    a tie between the top values -> for scores their mean, for labels the label of the mean
    strength rounded toward ``A=B``. ``mean``: mean score (pairwise: mean strength, mapped back
    to the nearest label). Unparsed samples are left out; all unparsed -> unparsed.
    """
    ok = [v for v in verdicts if v.status == "ok"]
    raw = "\n---\n".join(v.raw for v in verdicts)
    if not ok:
        status: Literal["unparsed", "failed"] = (
            "failed" if verdicts and all(v.status == "failed" for v in verdicts) else "unparsed"
        )
        return Verdict(status, raw)
    if len(ok) == 1:
        return Verdict("ok", raw, label=ok[0].label, score=ok[0].score)
    pairwise = ok[0].label is not None
    values = [float(v.score) for v in ok if v.score is not None]
    mean = sum(values) / len(values)
    if how == "majority":
        keys = [v.label if pairwise else v.score for v in ok]
        counts = Counter(keys).most_common()
        if len(counts) == 1 or counts[0][1] > counts[1][1]:
            top = counts[0][0]
            if pairwise:
                return Verdict("ok", raw, label=str(top), score=PAIRWISE_VALUE[str(top)])
            return Verdict("ok", raw, score=float(top))  # type: ignore[arg-type]
    elif how != "mean":
        raise ValueError(f"aggregate must be 'majority' or 'mean', not {how!r}")
    if pairwise:
        # nearest label to the mean strength; halves round toward A=B
        mag = math.floor(abs(mean) + 0.5 - 1e-9)
        strength = float(min(2, mag) * (1 if mean > 0 else -1))
        label = {v: k for k, v in PAIRWISE_VALUE.items()}[strength if strength else 0.0]
        return Verdict("ok", raw, label=label, score=mean)
    return Verdict("ok", raw, score=mean)
