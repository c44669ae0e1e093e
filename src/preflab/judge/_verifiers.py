"""Verifier runs over tables: per-response results, a scores table, and preference pairs.

Responses are verified (code against tests, or math against a reference answer); each result
becomes a score (code: fraction of tests passed; math: 1 correct / 0 otherwise) with
``judge = "verifier:code"`` or ``"verifier:math"``. Preference pairs follow CodeDPO's idea
[Zhang24]_: on the same prompt, a response that verifies better beats one that verifies
worse (passing beats failing); equal scores give no pair unless ``ties=True``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from preflab._errors import DataError
from preflab.judge._verify_code import verify_code
from preflab.judge._verify_math import verify_math

SCORES_SCHEMA = pa.schema([("prompt_id", pa.string()), ("model", pa.string()),
                           ("score", pa.float64()), ("judge", pa.string()),
                           ("aspect", pa.string())])


@dataclass(frozen=True, slots=True)
class VerifierRun:
    """``details``: one row per response (status and per-test results or extracted answer);
    ``scores``: the scores table; ``comparisons``: preference pairs between responses."""

    details: pa.Table
    scores: pa.Table
    comparisons: pa.Table


def _rows(table: pa.Table | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return table.to_pylist() if isinstance(table, pa.Table) else [dict(r) for r in table]


def scores_to_pairs(scores: pa.Table | Sequence[Mapping[str, Any]], *, ties: bool = False,
                    margin: float = 0.0) -> pa.Table:
    """Comparisons between every two responses to the same prompt: the higher score wins.

    Pairs whose scores differ by ``margin`` or less are skipped (or written as ties with
    ``ties=True``). ``judge`` and ``aspect`` are carried over from the scores.
    """
    by_prompt: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in _rows(scores):
        by_prompt[str(r["prompt_id"])].append(r)
    out = []
    for pid, rs in by_prompt.items():
        rs = sorted(rs, key=lambda r: str(r["model"]))
        for i in range(len(rs)):
            for j in range(i + 1, len(rs)):
                a, b = rs[i], rs[j]
                diff = float(a["score"]) - float(b["score"])
                if abs(diff) <= margin and not ties:
                    continue
                winner = "tie" if abs(diff) <= margin else "model_a" if diff > 0 else "model_b"
                out.append({"prompt_id": pid, "model_a": a["model"], "model_b": b["model"],
                            "winner": winner, "judge": a.get("judge"), "weight": 1.0,
                            "aspect": a.get("aspect")})
    schema = pa.schema([("prompt_id", pa.string()), ("model_a", pa.string()),
                        ("model_b", pa.string()), ("winner", pa.string()), ("judge", pa.string()),
                        ("weight", pa.float64()), ("aspect", pa.string())])
    return pa.Table.from_pylist(out, schema=schema)


def run_verifier(table: pa.Table | Sequence[Mapping[str, Any]], kind: str, *,
                 response: str = "response", tests: str = "tests", reference: str = "reference",
                 setup: str | None = None, timeout: float = 5.0, memory_mb: int = 1024,
                 workers: int = 2, ties: bool = False,
                 progress: Callable[..., None] | None = None) -> VerifierRun:
    """Verify every row of ``table`` (``prompt_id, model`` and the response column).

    ``kind="code"``: column ``tests`` holds a list of test snippets (or a JSON list, or one
    snippet); optional column ``setup``. ``kind="math"``: column ``reference`` holds the
    reference answer or solution.
    """
    if kind not in ("code", "math"):
        raise DataError(f"kind {kind!r} is not 'code' or 'math'", field="kind",
                        fix="Use kind='code' (tests) or kind='math' (reference answers).")
    rows = _rows(table)
    need = ("prompt_id", "model", response, tests if kind == "code" else reference)
    for i, r in enumerate(rows):
        for c in need:
            if r.get(c) is None:
                raise DataError(f"missing value for {c!r}", row=i, field=c,
                                fix=f"Every row needs {', '.join(need)}.")
    if progress is not None:
        progress(advance=0, total=len(rows))

    def one(r: dict[str, Any]) -> dict[str, Any]:
        base = {"prompt_id": str(r["prompt_id"]), "model": str(r["model"])}
        if kind == "code":
            t = r[tests]
            if isinstance(t, str) and t.lstrip().startswith("["):
                t = json.loads(t)
            res = verify_code(str(r[response]), t, setup=setup if setup is not None
                              else str(r.get("setup") or ""), timeout=timeout, memory_mb=memory_mb)
            d = base | {"status": res.status, "score": res.score, "n_passed": res.n_passed,
                        "n_tests": res.n_tests,
                        "tests": json.dumps([{"status": x.status, "message": x.message}
                                             for x in res.tests])}
        else:
            m = verify_math(str(r[response]), str(r[reference]))
            d = base | {"status": m.status, "score": m.score, "predicted": m.predicted,
                        "reference": m.reference}
        if progress is not None:
            progress(advance=1)
        return d

    with ThreadPoolExecutor(max_workers=max(1, workers if kind == "code" else 1)) as pool:
        details = list(pool.map(one, rows))
    judge = f"verifier:{kind}"
    aspect = "functional_correctness" if kind == "code" else "final_answer"
    scores = pa.Table.from_pylist([{"prompt_id": d["prompt_id"], "model": d["model"],
                                    "score": float(d["score"]), "judge": judge, "aspect": aspect}
                                   for d in details], schema=SCORES_SCHEMA)
    return VerifierRun(pa.Table.from_pylist(details), scores, scores_to_pairs(scores, ties=ties))
