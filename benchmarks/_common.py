"""Shared benchmark helpers: synthetic battles, whole-process timing with peak memory."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WORK = Path(__file__).resolve().parent / "_work"


@dataclass
class Run:
    seconds: float
    peak_mb: float
    returncode: int
    stdout: str
    stderr: str


def run_process(cmd: list[str], env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` as a whole process; wall time and the child's peak RSS (MB)."""
    import tempfile

    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, text=True,
                                env={**os.environ, **(env or {})})
        # wait4 gives this child's own rusage; ru_maxrss is its peak RSS in KB (Linux).
        # (Worker processes it forks are not included: FastChat's pool workers share most
        # pages with the parent, so the parent's peak is a lower bound for the peer.)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    return Run(seconds, usage.ru_maxrss / 1024, proc.returncode, out, err)


def machine() -> str:
    return (f"{platform.node() or 'host'}: {os.cpu_count()} cores, "
            f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
            f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")


def synthetic_battles(n: int, n_models: int = 100, seed: int = 0, *, path: Path | None = None,
                      chunk: int = 2_000_000) -> Path:
    """Chatbot-Arena-style battles: Zipf-like popularity, ties likelier for close pairs.

    Written to Parquet in chunks (so 100M rows need little memory); cached by (n, models, seed).
    """
    WORK.mkdir(parents=True, exist_ok=True)
    path = path or WORK / f"battles_{n}_{n_models}_{seed}.parquet"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 150, n_models) * np.log(10) / 400
    pop = 1.0 / np.arange(1, n_models + 1) ** 0.8
    pop /= pop.sum()
    names = pa.array([f"model-{i:03d}" for i in range(n_models)])
    labels = pa.array(["model_a", "model_b", "tie", "tie (bothbad)"])
    tmp = path.with_suffix(".tmp")
    writer = None
    done = 0
    while done < n:
        size = min(chunk, n - done)
        a = rng.choice(n_models, size, p=pop)
        b = rng.choice(n_models, size, p=pop)
        clash = a == b
        b[clash] = (b[clash] + 1 + rng.integers(0, n_models - 1, clash.sum())) % n_models
        d = strength[a] - strength[b]
        p_tie = 0.25 * np.exp(-np.abs(d))
        p_a = (1 - p_tie) / (1 + np.exp(-d))
        u = rng.random(size)
        code = np.where(u < p_a, 0, np.where(u < 1 - p_tie, 1, np.where(u < 1 - p_tie / 3, 2, 3)))
        table = pa.table({
            "model_a": pa.DictionaryArray.from_arrays(pa.array(a.astype(np.int32)), names),
            "model_b": pa.DictionaryArray.from_arrays(pa.array(b.astype(np.int32)), names),
            "winner": pa.DictionaryArray.from_arrays(pa.array(code.astype(np.int32)), labels),
            "tstamp": pa.array(np.arange(done, done + size, dtype=np.float64)),
        })
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table)
        done += size
    assert writer is not None
    writer.close()
    tmp.rename(path)
    return path


def python() -> str:
    return sys.executable
