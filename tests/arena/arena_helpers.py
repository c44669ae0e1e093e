"""Helpers for the arena tests (imported by conftest and the test modules)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from preflab.arena import ArenaConfig, create_app

BASE = "http://127.0.0.1"


def make_rows(n_prompts: int = 4, models: tuple[str, ...] = ("alpha", "bravo", "charlie", "delta"),
              ) -> list[dict[str, str | None]]:
    """Synthetic content whose texts never mention the model names."""
    rows: list[dict[str, str | None]] = []
    for p in range(n_prompts):
        for j, m in enumerate(models):
            rows.append({"prompt_id": f"p{p}", "model": m, "text": f"**Answer {j}** to prompt {p}.",
                         "prompt": f"Question number {p}?", "image": None, "category": None})
    return rows


def make_client(url: str, **overrides: object) -> TestClient:
    settings: dict[str, object] = {"db": url, "bootstrap_rounds": 20, "rate_limit": 0,
                                   "rate_limit_ip": 0, "admin_token": "s3cret-admin"}
    settings.update(overrides)
    app = create_app(ArenaConfig(**settings))  # type: ignore[arg-type]
    return TestClient(app, base_url=BASE)


def form_fields(html: str) -> dict[str, str]:
    """The hidden token and csrf of the vote page."""
    token = re.search(r'name="token" value="([^"]+)"', html)
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    assert token and csrf, html
    return {"token": token.group(1), "csrf": csrf.group(1)}
