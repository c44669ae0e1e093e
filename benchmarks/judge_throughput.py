"""Judge runner throughput against the fake OpenAI-compatible server (50 ms per answer).

Runs 10,000 pairwise judgments (5,000 pairs x 2 games) at concurrency 64 with preflab's
runner, then the same 10,000 again from the SQLite cache, and compares with an
Arena-Hard-Auto-style loop: a ``ThreadPoolExecutor`` of 64 threads, each judging one pair's
two games in turn with the ``openai`` client built per call (as arena-hard-auto's
``chat_completion_openai`` does), appending results to a JSONL file under a lock.

    python benchmarks/judge_throughput.py            # full size
    python benchmarks/judge_throughput.py --pairs 500 # quick look

The fake server runs as its own process, so client and server do not share a GIL.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from preflab.judge import JudgeConfig, run_judge


def make_pairs(n: int) -> list[dict[str, str]]:
    return [{"prompt_id": f"p{i}", "prompt": f"Question number {i}: explain something.",
             "model_a": "baseline", "response_a": f"Baseline answer {i}. " * 20,
             "model_b": "candidate", "response_b": f"Candidate answer {i}. " * 25}
            for i in range(n)]


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def proc_cpu(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def arena_hard_style(pairs: list[dict[str, str]], url: str, workers: int, out: Path,
                     shared: bool) -> float:
    import openai

    from preflab.judge import BUILTIN_TEMPLATES

    tpl = BUILTIN_TEMPLATES["arena-hard"]
    lock = threading.Lock()
    one = openai.OpenAI(base_url=url, api_key="x", max_retries=0)

    def call(messages: list[dict[str, str]]) -> str:
        # arena-hard-auto builds a client per call; the shared variant is the fair best case
        client = one if shared else openai.OpenAI(base_url=url, api_key="x")
        r = client.chat.completions.create(model="fake", messages=messages,  # type: ignore[arg-type]
                                           temperature=0.0, max_tokens=4096)
        return r.choices[0].message.content or ""

    def judge(p: dict[str, str]) -> None:
        games = []
        for a, b in (("response_a", "response_b"), ("response_b", "response_a")):
            games.append(call(tpl.render(prompt=p["prompt"], response_a=p[a], response_b=p[b])))
        with lock, open(out, "a") as fh:
            fh.write(json.dumps({"id": p["prompt_id"], "games": games}) + "\n")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(judge, pairs))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--peer-pairs", type=int, default=500,
                    help="pairs for the (slow) Arena-Hard-style loop; 0 skips it")
    args = ap.parse_args()
    load0 = os.getloadavg()
    server = subprocess.Popen([sys.executable, "-m", "preflab.judge._fake_server",
                               "--latency", str(args.latency)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        pairs = make_pairs(args.pairs)
        n = 2 * args.pairs
        ideal = n * args.latency / args.concurrency
        judge = JudgeConfig(model="fake", base_url=url, api_key_env=None,
                            concurrency=args.concurrency, price_input=0.15, price_output=0.6)
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "cache.sqlite"
            for label, j in (("preflab (stream transport)", judge),
                             ("preflab (httpx transport)", judge.with_(transport="httpx"))):
                c0, t0, s0 = cpu(), time.perf_counter(), proc_cpu(server.pid)
                cache = db if "stream" in label else Path(tmp) / "c2.sqlite"
                run = run_judge(pairs, j, cache=cache)
                wall, c = time.perf_counter() - t0, cpu() - c0
                assert run.complete and run.n_new == n, run.summary()
                rows.append((label, wall, c, proc_cpu(server.pid) - s0))
            c0, t0 = cpu(), time.perf_counter()
            run = run_judge(pairs, judge, cache=db)
            cached_wall, cached_cpu = time.perf_counter() - t0, cpu() - c0
            assert run.n_cached == n and run.n_new == 0
            peer_rows = []
            try:
                import openai  # noqa: F401
            except ImportError:
                print("openai is not installed: skipping the Arena-Hard-style loop")
                args.peer_pairs = 0
            for shared in (False, True):
                if args.peer_pairs <= 0:
                    break
                sub = pairs[: args.peer_pairs]
                c0 = cpu()
                peer = arena_hard_style(sub, url, args.concurrency, Path(tmp) / "ah.jsonl", shared)
                peer_rows.append((f"arena-hard-style pool, {'one shared' if shared else 'per-call'}"
                                  f" openai client ({2 * len(sub)} calls)", peer, cpu() - c0,
                                  2 * len(sub)))
        print(f"{n} judgments, {args.latency * 1000:.0f} ms latency, concurrency "
              f"{args.concurrency}: ideal {ideal:.2f} s")
        print(f"  load average before: {load0}, after: {os.getloadavg()}")
        for label, wall, c, sc in rows:
            print(f"  {label:60s} {wall:7.2f} s  ({wall / ideal:.2f}x ideal, "
                  f"client CPU {1000 * c / n:.2f} ms/call, server CPU {sc:.1f} s)")
        print(f"  {'fully cached re-run':60s} {cached_wall:7.2f} s  "
              f"(client CPU {cached_cpu:.2f} s)")
        for label, wall, c, m in peer_rows:
            ideal_m = m * args.latency / args.concurrency
            print(f"  {label:60s} {wall:7.2f} s  ({wall / ideal_m:.2f}x ideal, "
                  f"client CPU {1000 * c / m:.2f} ms/call)")
            print(f"    per-call overhead vs preflab (wall/ideal ratio): "
                  f"{(wall / ideal_m) / (rows[0][1] / ideal):.2f}x")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
