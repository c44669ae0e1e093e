"""Durability: votes acknowledged before ``kill -9`` of the server are all there after restart.

The server runs as ``preflab arena serve --workers 2`` in its own process group; the whole
group (master and workers) is killed with SIGKILL while clients are still voting.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from arena_helpers import make_rows, start_server
from browser_helpers import free_port

from preflab.arena import Store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _start(db_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    return start_server(db_url, port, log, "--rate-limit", "0", "--rate-limit-ip", "0")


def _battle_id(token: str) -> str:
    return token.split(".")[0]  # battle id . timestamp . MAC (_security.Signer)


def _voter(base: str, acked: list[str], stop: threading.Event) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        while not stop.is_set():
            try:
                page = client.get("/")
                token = re.search(r'name="token" value="([^"]+)"', page.text)
                csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
                if not token or not csrf:
                    return
                r = client.post("/vote", data={"token": token.group(1), "csrf": csrf.group(1),
                                               "choice": "a"})
                if r.status_code == 200 and "your vote is saved" in r.text:
                    acked.append(_battle_id(token.group(1)))
            except httpx.HTTPError:
                return  # the server is gone


def test_acknowledged_votes_survive_kill_9(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url)
    store.load_responses(make_rows(n_prompts=30, models=tuple(f"m{i}" for i in range(8))))
    log = tmp_path / "server.log"
    port = free_port()
    proc = _start(db_url, port, log)
    acked: list[str] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_voter, args=(f"http://127.0.0.1:{port}", acked, stop))
               for _ in range(6)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 45  # bounded even on a busy machine
        while len(acked) < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)  # mid-load: clients are still sending
        proc.wait(timeout=10)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert len(acked) >= 20, "too few votes before the kill to test anything"
    snapshot = list(acked)

    port2 = free_port()
    proc2 = _start(db_url, port2, log)  # restarts cleanly on the same database
    try:
        stored = {v["battle_id"] for v in store.votes()}
        missing = [b for b in snapshot if b not in stored]
        assert not missing, f"{len(missing)} acknowledged votes lost"
        # counts were updated in the same transactions as the votes
        assert sum(sum(r[2:]) for r in store.pair_stats()) == len(stored)
        acked2: list[str] = []
        stop2 = threading.Event()
        stop2.set()  # one round only
        with httpx.Client(base_url=f"http://127.0.0.1:{port2}", timeout=10) as client:
            page = client.get("/")
            token = re.search(r'name="token" value="([^"]+)"', page.text)
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token and csrf
            r = client.post("/vote", data={"token": token.group(1), "csrf": csrf.group(1),
                                           "choice": "tie"})
            assert r.status_code == 200
            acked2.append(_battle_id(token.group(1)))
        assert acked2[0] in {v["battle_id"] for v in store.votes()}
    finally:
        os.killpg(proc2.pid, signal.SIGTERM)
        try:
            proc2.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc2.pid, signal.SIGKILL)
        store.dispose()
