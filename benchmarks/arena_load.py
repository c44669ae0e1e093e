"""Bounded load test of the arena on 127.0.0.1: sustained votes/s and latency percentiles.

Starts ``preflab arena serve --workers 2`` on the bundled LLMFAO sample (SQLite and/or
PostgreSQL), then runs N concurrent voters (asyncio + httpx, one cookie jar each) for a fixed
time.  Each vote is a full cycle: ``GET /`` (matchmaking + a new battle row + render) and
``POST /vote`` (CSRF + token check + one committed transaction).  Reported: completed votes/s
and p50/p99 of the POST, the GET and the whole cycle, plus the server's CPU time per vote
(all processes of its group, from /proc), which does not depend on how busy the machine is.
As a reference point, the same client drives a minimal Starlette app that only commits one
INSERT per POST to the same kind of database (the floor cost of Python + uvicorn + a durable
commit on this machine); the ratio says how much the arena's logic costs on top.

Run:
    python benchmarks/arena_load.py --db sqlite --duration 20
    PREFLAB_TEST_POSTGRES_URL=postgresql://... python benchmarks/arena_load.py --db both
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import numpy as np

TOKEN = re.compile(r'name="token" value="([^"]+)"')
CSRF = re.compile(r'name="csrf" value="([^"]+)"')

BASELINE_APP = '''
import os, time, sqlalchemy as sa
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
URL = os.environ["BASELINE_DB"]
eng = sa.create_engine(URL, pool_size=8, max_overflow=8)
md = sa.MetaData()
t = sa.Table("baseline_votes", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("v", sa.String(64)), sa.Column("ts", sa.Float))
if URL.startswith("sqlite"):
    @sa.event.listens_for(eng, "connect")
    def _c(conn, rec):
        conn.isolation_level = None
        conn.execute("PRAGMA journal_mode=WAL"); conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
    @sa.event.listens_for(eng, "begin")
    def _b(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
def get(request):
    return HTMLResponse('<input name="token" value="t"><input name="csrf" value="c">')
async def post(request):
    form = await request.form()
    from starlette.concurrency import run_in_threadpool
    def write():
        with eng.begin() as c:
            c.execute(t.insert().values(v=str(form.get("token")), ts=time.time()))
    await run_in_threadpool(write)
    return HTMLResponse("your vote is saved")
def app():
    return Starlette(routes=[Route("/", get), Route("/vote", post, methods=["POST"]),
                             Route("/healthz", get)])
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("server exited during start-up")
        time.sleep(0.1)
    raise SystemExit("server did not start")


def start_arena(url: str, port: int, workers: int,
                limits: int = 0) -> subprocess.Popen[bytes]:
    from preflab.arena import Store, demo_responses, load_file

    store = Store(url)
    store.reset(content=True)
    load_file(store, demo_responses())
    store.dispose()
    cmd = [sys.executable, "-m", "preflab", "arena", "serve", "--db", url, "--port", str(port),
           "--workers", str(workers), "--rate-limit", str(limits), "--rate-limit-ip", str(limits)]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL)
    wait_up(port, proc)
    return proc


def start_baseline(url: str, port: int, workers: int, tmp: Path) -> subprocess.Popen[bytes]:
    (tmp / "baseline_app.py").write_text(BASELINE_APP)
    import sqlalchemy as sa  # create the table here, not racing in two workers

    eng = sa.create_engine(url)
    md = sa.MetaData()
    sa.Table("baseline_votes", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("v", sa.String(64)), sa.Column("ts", sa.Float))
    md.drop_all(eng)
    md.create_all(eng)
    eng.dispose()
    env = {**os.environ, "BASELINE_DB": url, "PYTHONPATH": str(tmp)}
    cmd = [sys.executable, "-m", "uvicorn", "baseline_app:app", "--factory", "--host",
           "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level",
           "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    wait_up(port, proc)
    return proc


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in process group ``pgid``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after "(comm)": state ppid pgrp ...
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


class RawHTTP:
    """A minimal keep-alive HTTP/1.1 client for one voter: one connection, one cookie jar.

    httpx costs ~1.5 ms of client CPU per vote (GET + POST); on a 2-core machine shared with
    the server that is half the CPU at 500 votes/s.  This client parses only what the vote
    loop needs (status, Set-Cookie, Content-Length body) and costs a fraction of that.
    """

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.cookies: dict[str, str] = {}
        self._io: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, method: str, path: str,
                      form: dict[str, str] | None = None) -> tuple[int, str]:
        if self._io is None:
            self._io = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._io
        head = [f"{method} {path} HTTP/1.1", f"host: {self.host}:{self.port}"]
        if self.cookies:
            head.append("cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        body = urlencode(form).encode() if form is not None else b""
        if form is not None:
            head += ["content-type: application/x-www-form-urlencoded",
                     f"content-length: {len(body)}"]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        raw_head = await reader.readuntil(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.lower()
            if name == "content-length":
                length = int(value)
            elif name == "set-cookie":
                k, _, v = value.strip().split(";", 1)[0].partition("=")
                self.cookies[k] = v
            elif name == "transfer-encoding":
                raise RuntimeError("chunked responses are not expected from the arena")
        return status, (await reader.readexactly(length)).decode()

    async def close(self) -> None:
        if self._io is not None:
            self._io[1].close()


async def voter(base: str, until: float, warm_until: float, lat: dict[str, list[float]],
                errors: list[str], client_kind: str = "raw") -> int:
    if client_kind == "raw":
        return await raw_voter(base, until, warm_until, lat, errors)
    done = 0
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        while time.monotonic() < until:
            t0 = time.perf_counter()
            page = await client.get("/")
            t1 = time.perf_counter()
            token, csrf = TOKEN.search(page.text), CSRF.search(page.text)
            if page.status_code != 200 or not token or not csrf:
                errors.append(f"GET {page.status_code}")
                if "seen every battle" in page.text:
                    client.cookies.clear()  # a fresh voter
                continue
            r = await client.post("/vote", data={"token": token.group(1),
                                                 "csrf": csrf.group(1), "choice": "a"})
            t2 = time.perf_counter()
            if r.status_code != 200:
                errors.append(f"POST {r.status_code}")
                continue
            if time.monotonic() >= warm_until:
                lat["get"].append(t1 - t0)
                lat["post"].append(t2 - t1)
                lat["cycle"].append(t2 - t0)
                done += 1
    return done


async def raw_voter(base: str, until: float, warm_until: float, lat: dict[str, list[float]],
                    errors: list[str]) -> int:
    """:func:`voter` with :class:`RawHTTP` (the same requests, the same checks)."""
    done = 0
    client = RawHTTP(base)
    try:
        while time.monotonic() < until:
            t0 = time.perf_counter()
            status, text = await client.request("GET", "/")
            t1 = time.perf_counter()
            token, csrf = TOKEN.search(text), CSRF.search(text)
            if status != 200 or not token or not csrf:
                errors.append(f"GET {status}")
                if "seen every battle" in text:
                    client.cookies.clear()  # a fresh voter
                continue
            status, _ = await client.request("POST", "/vote", {
                "token": token.group(1), "csrf": csrf.group(1), "choice": "a"})
            t2 = time.perf_counter()
            if status != 200:
                errors.append(f"POST {status}")
                continue
            if time.monotonic() >= warm_until:
                lat["get"].append(t1 - t0)
                lat["post"].append(t2 - t1)
                lat["cycle"].append(t2 - t0)
                done += 1
    finally:
        await client.close()
    return done


async def drive(base: str, concurrency: int, duration: float, warmup: float,
                pgid: int, client_kind: str = "raw") -> dict[str, float]:
    start = time.monotonic()
    warm_until = start + warmup
    until = warm_until + duration
    lat: dict[str, list[float]] = {"get": [], "post": [], "cycle": []}
    errors: list[str] = []
    cpu: dict[str, float] = {}

    async def mark() -> None:
        await asyncio.sleep(max(0.0, warm_until - time.monotonic()))
        cpu["server0"], cpu["client0"] = group_cpu_seconds(pgid), time.process_time()
        await asyncio.sleep(max(0.0, until - time.monotonic()))
        cpu["server1"], cpu["client1"] = group_cpu_seconds(pgid), time.process_time()

    results = await asyncio.gather(mark(), *[voter(base, until, warm_until, lat, errors,
                                                   client_kind) for _ in range(concurrency)])
    counts = results[1:]
    n = max(1, sum(counts))
    out = {"votes": float(sum(counts)), "votes_per_s": sum(counts) / duration,
           "errors": float(len(errors)),
           "server_cpu_ms": 1000 * (cpu["server1"] - cpu["server0"]) / n,
           "client_cpu_ms": 1000 * (cpu["client1"] - cpu["client0"]) / n}
    for key, values in lat.items():
        arr = np.array(values) * 1000 if values else np.array([np.nan])
        out[f"{key}_p50_ms"] = float(np.percentile(arr, 50))
        out[f"{key}_p99_ms"] = float(np.percentile(arr, 99))
    return out


def row(name: str, r: dict[str, float]) -> str:
    return (f"| {name} | {r['votes']:.0f} | {r['votes_per_s']:.0f} | {r['post_p50_ms']:.1f} | "
            f"{r['post_p99_ms']:.1f} | {r['get_p50_ms']:.1f} | {r['get_p99_ms']:.1f} | "
            f"{r['cycle_p50_ms']:.1f} | {r['cycle_p99_ms']:.1f} | {r['errors']:.0f} | "
            f"{r['server_cpu_ms']:.2f} | {r['client_cpu_ms']:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--limits", type=int, default=0,
                    help="per-voter and per-IP rate limits (0: off; a huge value measures the "
                         "cost of counting without refusing)")
    ap.add_argument("--client", choices=["raw", "httpx"], default="raw",
                    help="load generator: a minimal asyncio HTTP/1.1 client (default) or httpx")
    args = ap.parse_args()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print("| run | votes | votes/s | POST p50 ms | POST p99 ms | GET p50 ms | GET p99 ms | "
          "cycle p50 ms | cycle p99 ms | errors | server CPU ms/vote | client CPU ms/vote |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        for db in dbs:
            if db == "sqlite":
                url = f"sqlite:///{tmp / 'bench.sqlite'}"
                base_url = f"sqlite:///{tmp / 'baseline.sqlite'}"
            else:
                url = os.environ.get("PREFLAB_TEST_POSTGRES_URL", "")
                if not url:
                    raise SystemExit("set PREFLAB_TEST_POSTGRES_URL (eval \"$(.ci/postgres.sh)\")")
                base_url = url.replace("postgresql://", "postgresql+psycopg://")
            port = free_port()
            proc = start_arena(url, port, args.workers, args.limits)
            try:
                res = asyncio.run(drive(f"http://127.0.0.1:{port}", args.concurrency,
                                        args.duration, args.warmup, proc.pid, args.client))
            finally:
                stop(proc)
            print(row(f"arena {db}, {args.workers} workers, {args.concurrency} voters", res),
                  flush=True)
            print(f"projection with 2 idle cores for the server alone: "
                  f"{2000 / res['server_cpu_ms']:.0f} votes/s on {db}", flush=True)
            if args.no_baseline:
                continue
            port = free_port()
            proc = start_baseline(base_url, port, args.workers, tmp)
            try:
                ref = asyncio.run(drive(f"http://127.0.0.1:{port}", args.concurrency,
                                        args.duration, args.warmup, proc.pid, args.client))
            finally:
                stop(proc)
            print(row(f"minimal insert app {db} (reference)", ref), flush=True)
            print(f"ratio arena/minimal votes/s on {db}: "
                  f"{res['votes_per_s'] / ref['votes_per_s']:.2f}", flush=True)


if __name__ == "__main__":
    main()
