"""Code verifier: run a Python candidate against tests in a sandboxed subprocess.

Each candidate runs in a fresh ``python -I`` process (isolated mode: no user site, no
``PYTHON*`` variables) in a new temporary directory that is deleted afterwards, in its own
session (so the whole process group is killed on a timeout); before running anything, the
harness sets ``resource.setrlimit`` limits on itself: address space (``memory_mb``), CPU
seconds, file size (16 MiB) and core dumps (0).
The candidate's source is executed once; then every test (a Python snippet, e.g.
``assert add(2, 3) == 5`` or ``check(add)``) runs in the candidate's namespace with its own
wall-clock limit. Per test the result is ``pass``, ``fail`` (AssertionError), ``error`` (any
other exception, or the process died) or ``timeout``. Results are written to a file after
every test, so a crash keeps the results of the tests before it.

This is isolation against accidents (infinite loops, memory blow-ups, stray files), not a
security boundary against hostile code: use a container or VM for untrusted code at scale.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

TestStatus = Literal["pass", "fail", "error", "timeout"]

_HARNESS = r"""
import json, os, resource, signal, sys, time, traceback
with open("spec.json") as _fh:
    spec = json.load(_fh)
os.remove("spec.json")  # the candidate cannot read the tests from disk
_mem = spec["memory_mb"] * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (_mem, _mem))
resource.setrlimit(resource.RLIMIT_CPU, (spec["cpu_seconds"], spec["cpu_seconds"] + 1))
resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
out = open("results.jsonl", "w")
class _Timeout(BaseException):
    pass
def _alarm(signum, frame):
    raise _Timeout()
signal.signal(signal.SIGALRM, _alarm)
ns = {"__name__": "__candidate__"}
def record(i, status, msg, t0):
    out.write(json.dumps({"i": i, "status": status, "message": msg[-500:],
                          "duration": time.perf_counter() - t0}) + "\n")
    out.flush()
t0 = time.perf_counter()
signal.setitimer(signal.ITIMER_REAL, spec["timeout"])
try:
    exec(compile(spec["setup"] + "\n" + spec["code"], "candidate.py", "exec"), ns)
    signal.setitimer(signal.ITIMER_REAL, 0)
except _Timeout:
    for i in range(len(spec["tests"])):
        record(i, "timeout", "candidate did not finish loading", t0)
    sys.exit(0)
except BaseException as exc:
    signal.setitimer(signal.ITIMER_REAL, 0)
    msg = "candidate failed to load: " + "".join(traceback.format_exception_only(type(exc), exc))
    for i in range(len(spec["tests"])):
        record(i, "error", msg, t0)
    sys.exit(0)
for i, test in enumerate(spec["tests"]):
    t0 = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, spec["timeout"])
    try:
        exec(compile(test, "test_%d.py" % i, "exec"), ns)
        signal.setitimer(signal.ITIMER_REAL, 0)
        record(i, "pass", "", t0)
    except _Timeout:
        record(i, "timeout", "test exceeded %.3gs" % spec["timeout"], t0)
    except AssertionError as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        record(i, "fail", "AssertionError: " + str(exc), t0)
    except BaseException as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        record(i, "error", "".join(traceback.format_exception_only(type(exc), exc)).strip(), t0)
"""


@dataclass(frozen=True, slots=True)
class TestResult:
    """One test's outcome."""

    index: int
    status: TestStatus
    message: str = ""
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class CodeResult:
    """A candidate's results. ``score`` is the fraction of tests passed; ``passed`` all of them."""

    tests: tuple[TestResult, ...]

    @property
    def n_tests(self) -> int:
        """Number of tests."""
        return len(self.tests)

    @property
    def n_passed(self) -> int:
        """Number of tests passed."""
        return sum(t.status == "pass" for t in self.tests)

    @property
    def passed(self) -> bool:
        """True when every test passed (and there was at least one)."""
        return bool(self.tests) and self.n_passed == self.n_tests

    @property
    def score(self) -> float:
        """Fraction of tests passed (0 with no tests)."""
        return self.n_passed / self.n_tests if self.tests else 0.0

    @property
    def status(self) -> str:
        """``pass`` if all passed, else the first non-pass status among ``timeout``, ``error``,
        ``fail`` (in that order of precedence)."""
        if self.passed:
            return "pass"
        for s in ("timeout", "error", "fail"):
            if any(t.status == s for t in self.tests):
                return s
        return "error"


def verify_code(
    code: str,
    tests: Sequence[str] | str,
    *,
    setup: str = "",
    timeout: float = 5.0,
    memory_mb: int = 1024,
    python: str | None = None,
) -> CodeResult:
    """Run ``code`` and then each test in a sandboxed subprocess (see the module docstring).

    Parameters
    ----------
    code:
        The candidate's Python source.
    tests:
        Test snippets (or one string holding one test) executed in the candidate's namespace.
    setup:
        Source run before the candidate (imports the candidate may rely on).
    timeout:
        Wall-clock seconds per test (and for loading the candidate).
    memory_mb:
        Address-space limit of the process.
    python:
        Interpreter (default: the running one).
    """
    tests = [tests] if isinstance(tests, str) else list(tests)
    if not tests:
        return CodeResult(())
    wall = timeout * (len(tests) + 1) + 2.0
    with tempfile.TemporaryDirectory(prefix="preflab-verify-") as tmp:
        d = Path(tmp)
        (d / "harness.py").write_text(_HARNESS, encoding="utf-8")
        spec = {
            "code": code,
            "tests": tests,
            "setup": setup,
            "timeout": timeout,
            "memory_mb": memory_mb,
            "cpu_seconds": int(wall) + 1,
        }
        (d / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tmp,
            "TMPDIR": tmp,
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        proc = subprocess.Popen(
            [python or sys.executable, "-I", "harness.py"],
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )  # own process group: killed as a whole on timeout
        timed_out = False
        t0 = time.perf_counter()
        try:
            _, err = proc.communicate(timeout=wall)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, err = proc.communicate()
        results: dict[int, TestResult] = {}
        path = d / "results.jsonl"
        if path.exists():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                results[int(r["i"])] = TestResult(
                    int(r["i"]), r["status"], r["message"], float(r["duration"])
                )
        died = err.decode("utf-8", "replace").strip()[-300:] or f"exit status {proc.returncode}"
        elapsed = time.perf_counter() - t0
    out = []
    for i in range(len(tests)):
        if i in results:
            out.append(results[i])
        elif timed_out:
            out.append(TestResult(i, "timeout", f"process exceeded {wall:.3g}s", elapsed))
        else:
            out.append(TestResult(i, "error", f"process died before this test: {died}", 0.0))
    return CodeResult(tuple(out))


def verify_code_many(
    items: Sequence[tuple[str, Sequence[str] | str]], *, workers: int = 2, **kwargs: object
) -> list[CodeResult]:
    """:func:`verify_code` over ``(code, tests)`` items with ``workers`` processes at a time."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(lambda it: verify_code(it[0], it[1], **kwargs), items))  # type: ignore[arg-type]
