"""Rate limits are counted in the database, so every worker enforces the same limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from arena_helpers import BASE, form_fields, make_client, make_rows, start_server, stop_server
from browser_helpers import free_port
from fastapi.testclient import TestClient

from preflab.arena import Store
from preflab.arena import _raw as raw_module
from preflab.arena._raw import RateLimited


def _workers(db_url: str, **limits: int) -> tuple[TestClient, TestClient]:
    """Two apps on one database: separate engines, caches and writer threads, like two
    uvicorn worker processes (the signing secret is shared through the database)."""
    one = make_client(db_url, **limits)  # type: ignore[arg-type]
    one.app.state.arena.store.load_responses(make_rows(n_prompts=8))  # type: ignore[attr-defined]
    two = make_client(db_url, **limits)  # type: ignore[arg-type]
    return one, two


def _close(*clients: TestClient) -> None:
    for c in clients:
        c.app.state.arena.store.dispose()  # type: ignore[attr-defined]


def test_two_workers_share_the_ip_limit(db_url: str) -> None:
    one, two = _workers(db_url, rate_limit_ip=5)
    try:
        codes = []
        for i in range(8):  # fresh voters from one IP, alternating between the workers
            fresh = TestClient((one, two)[i % 2].app, base_url=BASE)
            codes.append(fresh.get("/").status_code)
        # per-worker counters would have let 2 x 5 = 10 through
        assert codes == [200] * 5 + [429] * 3
    finally:
        _close(one, two)


def test_two_workers_share_the_voter_limit(db_url: str) -> None:
    one, two = _workers(db_url, rate_limit=3)
    try:
        # one voter (the same cookie) whose requests land on either worker
        jars = (TestClient(one.app, base_url=BASE), TestClient(two.app, base_url=BASE))
        assert jars[0].get("/healthz").status_code == 200
        first = jars[0].get("/")
        cookie = jars[0].cookies.get("preflab_voter")
        assert cookie
        jars[1].cookies.set("preflab_voter", cookie)
        votes = []
        for i in range(3):  # battle on one worker, vote on the other
            page = first if i == 0 else jars[i % 2].get("/")
            assert page.status_code == 200
            post = jars[(i + 1) % 2].post("/vote", data={**form_fields(page.text), "choice": "a"})
            votes.append(post.status_code)
        assert votes == [200, 200, 200]
        assert jars[1].get("/").status_code == 429  # a fourth new battle within the minute
        assert jars[0].get("/").status_code == 429  # on either worker
    finally:
        _close(one, two)


def test_refused_events_are_not_counted(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    try:
        limits = (("vote:voter:v1", 2),)
        store.count_events(limits).result()
        store.count_events(limits).result()
        for _ in range(3):
            with pytest.raises(RateLimited):
                store.count_events(limits).result()
        with store.raw.write() as c:
            n = c.execute("SELECT sum(n) FROM arena_rate WHERE key = 'vote:voter:v1'").fetchone()
        assert n[0] == 2  # the refusals rolled their increments back
    finally:
        store.dispose()


def test_sliding_window_weighs_the_previous_minute(sqlite_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    now = [60.0 * 1000 + 59.0]  # the last second of a window

    class Clock:
        @staticmethod
        def time() -> float:
            return now[0]

    monkeypatch.setattr(raw_module, "time", Clock)
    store = Store(sqlite_url)
    limits = (("battle:ip:10.0.0.1", 4),)

    def allowed() -> bool:
        try:
            store.count_events(limits).result()
        except RateLimited:
            return False
        return True

    def spend() -> list[bool]:
        out: list[Any] = []
        while len(out) < 6 and (not out or out[-1]):
            out.append(allowed())
        return out

    try:
        assert spend() == [True] * 4 + [False]
        now[0] = 60.0 * 1001 + 15.0  # a quarter into the next window: 4 x 0.75 = 3 still count
        assert spend() == [True, False]
        now[0] = 60.0 * 1001 + 45.0  # three quarters in: 1 + 4 x 0.25 = 2 count
        assert spend() == [True, True, False]
        now[0] = 60.0 * 1003  # two windows later nothing counts (and old windows are swept)
        assert spend() == [True] * 4 + [False]
        with store.raw.write() as c:
            wins = {r[0] for r in c.execute("SELECT win FROM arena_rate").fetchall()}
        assert wins == {1003}
        # a burst across a window boundary gets the limit, not more (the estimate rounds up)
        now[0] = 60.0 * 1005 + 59.9
        assert [allowed() for _ in range(3)] == [True] * 3
        now[0] = 60.0 * 1006 + 0.1
        assert spend() == [True, False]
    finally:
        store.dispose()


@pytest.mark.slow
def test_two_uvicorn_workers_share_the_ip_limit(sqlite_url: str, tmp_path: Path) -> None:
    """The real thing: ``serve --workers 2``; fresh connections land on either process."""
    store = Store(sqlite_url)
    store.load_responses(make_rows(n_prompts=8))
    store.dispose()
    port = free_port()
    proc = start_server(sqlite_url, port, tmp_path / "server.log", "--rate-limit", "0",
                        "--rate-limit-ip", "6")
    try:
        codes = []
        for _ in range(12):  # a new voter and a new TCP connection each time
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                codes.append(client.get("/").status_code)
        assert codes == [200] * 6 + [429] * 6  # per-worker counters would pass 7 to 12
    finally:
        stop_server(proc)
