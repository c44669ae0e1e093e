"""Helpers for the arena tests (imported by conftest and the test modules)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
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


def start_server(db_url: str, port: int, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """``preflab arena serve --workers 2`` in its own process group, once it answers."""
    cmd = [sys.executable, "-m", "preflab", "arena", "serve", "--db", db_url, "--port",
           str(port), "--workers", "2", "--bootstrap-rounds", "10", *args]
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError(f"server did not start: {log.read_text()}")


def first_page(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> httpx.Response:
    """``GET base/`` once a freshly started server answers (fails if it exits or times out)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(base + "/", timeout=2)
        except httpx.HTTPError:
            assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
            time.sleep(0.2)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)
