"""Helpers for judge tests (imported by the test modules of this folder)."""

from __future__ import annotations

from typing import Any

from preflab.judge import JudgeConfig


def make_pairs(n: int, category: str | None = None) -> list[dict[str, Any]]:
    """``n`` distinct pairs of two fake models."""
    rows = []
    for i in range(n):
        r = {
            "prompt_id": f"p{i}",
            "prompt": f"Question {i}?",
            "model_a": "alpha",
            "response_a": f"Answer A{i}" + " x" * (i % 7),
            "model_b": "beta",
            "response_b": f"Answer B{i}" + " y" * (i % 5),
        }
        if category:
            r["category"] = category
        rows.append(r)
    return rows


def fast_judge(url: str, **kw: Any) -> JudgeConfig:
    """A judge against the fake server with quick retries."""
    base: dict[str, Any] = {
        "model": "fake-judge",
        "base_url": url,
        "api_key_env": None,
        "concurrency": 8,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "timeout": 2.0,
    }
    return JudgeConfig(**(base | kw))
