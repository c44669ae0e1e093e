"""Run every benchmark in sequence (``make bench``); each prints its own table and ratios.

Peers that are not on PyPI are found through environment variables:
``FASTCHAT_RATING_SYSTEMS`` (FastChat's ``fastchat/serve/monitor/rating_systems.py`` from a
checkout; without it the FastChat columns are skipped) and ``PREFLAB_TEST_POSTGRES_URL`` for
the arena's PostgreSQL run. Large generated inputs go to ``$PREFLAB_BENCH_DATA`` (default
``benchmarks/_work``). Results are recorded by hand in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FASTCHAT = os.environ.get("FASTCHAT_RATING_SYSTEMS")
POSTGRES = bool(os.environ.get("PREFLAB_TEST_POSTGRES_URL"))

RUNS: list[list[str]] = [
    ["rank_vs_fastchat.py", "--sizes", "10k,100k,1M,10M", "--rounds", "1000",
     *(["--fastchat-src", FASTCHAT] if FASTCHAT else [])],
    ["style_control_vs_fastchat.py", "--sizes", "100k,1m", "--rounds", "100",
     *(["--fastchat", FASTCHAT] if FASTCHAT else [])],
    ["scale_100m.py"],
    ["coverage_sandwich_vs_bootstrap.py"],
    ["plackett_luce_vs_choix.py"],
    ["active_sampling.py"],
    ["incremental_board.py"],
    ["data_read.py"],
    ["lc_vs_alpacaeval.py"],
    ["judge_throughput.py"],
    ["arena_load.py", "--db", "both" if POSTGRES else "sqlite"],
    ["arena_matchmaking.py"],
    ["rm_accuracy.py"],
    ["rm_speed.py"],
    ["rm_process.py"],
    ["bench_curation.py"],
]


def main() -> int:
    failed = []
    for args in RUNS:
        print(f"\n=== {' '.join(args)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / args[0]), *args[1:]], cwd=HERE).returncode:
            failed.append(args[0])
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
