"""Helpers for bench tests: a deterministic fake quality judge and fake model answers."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from preflab.judge import JudgeConfig
from preflab.judge._fake_server import default_reply

_PROMPT = re.compile(r"<\|User Prompt\|>\n(.*)\n<\|End of User Prompt\|>", re.S)
_STRENGTH = re.compile(r"\[strength (-?\d+(?:\.\d+)?)\]")


def _h(text: str, salt: str = "") -> int:
    return int(hashlib.sha256((salt + text).encode()).hexdigest()[:12], 16)


_TECH = re.compile(
    r"\b(python|code|function|sql|script|javascript|java|c\+\+|rust|program|class|api|query|"
    r"database|algorithm|write|implement|matlab|excel)\b", re.I)


def fake_criteria(prompt: str) -> list[int]:
    """Criteria a fake judge lists for ``prompt``: a pure function of its text.

    Technical prompts satisfy more criteria, so clusters differ in mean quality.
    """
    n = min(7, 3 + (4 if _TECH.search(prompt) else 0) + _h(prompt) % 3)
    order = sorted(range(1, 8), key=lambda c: _h(prompt, str(c)))
    return sorted(order[:n])


def quality_reply(messages: list[dict[str, Any]], model: str) -> str:
    """Fake judge: criteria lists for quality prompts (some malformed), Arena-Hard verdicts
    driven by the ``[strength s]`` tags of fake answers, else the judge package's default."""
    text = "\n".join(str(m.get("content", "")) for m in messages)
    m = _PROMPT.search(text)
    if m is not None:
        prompt = m.group(1)
        h = _h(prompt, "style")
        crit = fake_criteria(prompt)
        if h % 50 == 0:
            return "This prompt is interesting and hard."  # malformed: no list
        if h % 50 == 1:
            return f"Criteria Satisfied: {crit}\nOn reflection: [1, 2]"  # conflicting lists
        if h % 3 == 0:
            return f"Criteria Satisfied: {crit}"
        return str(crit)
    if "[[A>>B]]" in text:
        s = [float(x) for x in _STRENGTH.findall(text)]
        if len(s) >= 2:
            a, b = s[-2], s[-1]  # A's answer is shown before B's
            noise = (_h(text) % 1000) / 1000 - 0.5
            d = a - b + noise
            label = ("A>>B" if d > 1.0 else "A>B" if d > 0.25 else "A=B" if d > -0.25
                     else "B>A" if d > -1.0 else "B>>A")
            return f"Both answers considered. My final verdict is: [[{label}]]"
    return default_reply(messages, model)


def judge_for(url: str, **kw: Any) -> JudgeConfig:
    base: dict[str, Any] = {"model": "fake-judge", "base_url": url, "api_key_env": None,
                            "concurrency": 8, "backoff_base": 0.01, "backoff_max": 0.05,
                            "timeout": 5.0}
    return JudgeConfig(**(base | kw))
