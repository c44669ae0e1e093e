"""kill -9 at any moment and re-run: answers received before the kill are kept, only the calls
in flight are asked again, and the run completes. The judge runs as `preflab judge` in a
subprocess that is killed with SIGKILL while answers stream in from the fake server."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _judge_helpers import make_pairs

from preflab.judge._fake_server import FakeOpenAI

CONCURRENCY = 4
N_PAIRS = 60
N_CALLS = 2 * N_PAIRS


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return int(con.execute("SELECT COUNT(*) FROM answers").fetchone()[0])
    except sqlite3.OperationalError:  # table not created yet
        return 0


def _keys(db: Path) -> set[str]:
    with sqlite3.connect(db, timeout=5) as con:
        return {r[0] for r in con.execute("SELECT key FROM answers")}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kill_after", [1, 37])
def test_sigkill_then_resume(tmp_path: Path, kill_after: int) -> None:
    pairs = tmp_path / "pairs.parquet"
    pq.write_table(pa.Table.from_pylist(make_pairs(N_PAIRS)), pairs)
    out = tmp_path / "out.parquet"
    db = tmp_path / "cache.sqlite"
    with FakeOpenAI(latency=0.03) as srv:
        cmd = [
            sys.executable,
            "-m",
            "preflab",
            "judge",
            str(pairs),
            "--model",
            "fake-judge",
            "--base-url",
            srv.url,
            "--api-key-env",
            "",
            "--concurrency",
            str(CONCURRENCY),
            "--cache",
            str(db),
            "-o",
            str(out),
        ]
        env = os.environ | {"PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while _count(db) < kill_after and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
        assert not out.exists()  # it really died mid-run
        time.sleep(0.5)  # let the server finish answering requests that were in flight
        kept = _keys(db)
        served_before = list(srv.served)
        assert len(kept) >= kill_after
        # answers the server gave that never reached the cache = calls in flight at the kill
        assert len(served_before) - len(kept) <= CONCURRENCY

        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, done.stderr
        served_after = srv.served[len(served_before) :]
    # nothing kept was asked again; only calls not yet answered (or in flight) were asked
    assert _keys(db) >= kept and len(_keys(db)) == N_CALLS
    assert len(served_after) == N_CALLS - len(kept)
    asked_twice = set(served_before) & set(served_after)
    assert len(asked_twice) <= CONCURRENCY
    table = pq.read_table(out)
    verdicts = pq.read_table(tmp_path / "out.verdicts.parquet")
    assert verdicts.num_rows == N_CALLS and set(verdicts.column("status").to_pylist()) == {"ok"}
    assert table.num_rows == N_CALLS
