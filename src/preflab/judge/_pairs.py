"""Pair tables: pairs from a responses table and a baseline; verdicts to comparisons rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from preflab._errors import DataError


def as_rows(table: pa.Table | Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return table.to_pylist() if isinstance(table, pa.Table) else [dict(r) for r in table]


def pairs_from_responses(responses: pa.Table | Sequence[dict[str, Any]], baseline: str) -> pa.Table:
    """Pairs of every model's response against ``baseline``'s on the same prompt.

    ``responses`` has ``prompt_id, model, text`` and ``prompt`` (the responses table). The
    baseline is ``model_a`` (shown first in game 1), as in Arena-Hard-Auto.
    """
    rows = as_rows(responses)
    for col in ("prompt_id", "model", "text"):
        if rows and col not in rows[0]:
            raise DataError(
                f"the responses table has no column {col!r}",
                field=col,
                fix="A responses table needs prompt_id, model, text and prompt.",
            )
    base = {r["prompt_id"]: r for r in rows if r["model"] == baseline}
    if not base:
        models = sorted({r["model"] for r in rows})
        raise DataError(
            f"baseline {baseline!r} has no responses",
            field="model",
            fix=f"Pick --baseline from: {', '.join(models[:20])}.",
        )
    out = []
    for i, r in enumerate(rows):
        if r["model"] == baseline:
            continue
        b = base.get(r["prompt_id"])
        if b is None:
            raise DataError(
                f"no {baseline} response for prompt {r['prompt_id']!r}",
                row=i,
                field="prompt_id",
                fix="Add the baseline's response or drop the prompt.",
            )
        prompt = r.get("prompt") or b.get("prompt")
        if prompt is None:
            raise DataError("no prompt text", row=i, field="prompt", fix="Add a prompt column.")
        row = {
            "prompt_id": r["prompt_id"],
            "prompt": prompt,
            "model_a": baseline,
            "response_a": b["text"],
            "model_b": r["model"],
            "response_b": r["text"],
        }
        if r.get("category") is not None:
            row["category"] = r["category"]
        out.append(row)
    return pa.Table.from_pylist(out)


def verdicts_to_comparisons(
    verdicts: pa.Table | Sequence[dict[str, Any]],
    *,
    aspect: str | None = None,
    strong_weight: float = 3.0,
) -> pa.Table:
    """Comparisons rows from parsed pairwise verdicts (``model_a`` = the response shown first).

    ``A>>B`` -> winner model_a with weight ``strong_weight`` (3 in Arena-Hard-Auto [Li24]_),
    ``A>B`` -> model_a weight 1, ``A=B`` -> tie weight 1, and symmetrically for B. The
    ``game`` column is kept so the judge audit can pair the two orders.
    """
    winner = {
        "A>>B": "model_a",
        "A>B": "model_a",
        "A=B": "tie",
        "B>A": "model_b",
        "B>>A": "model_b",
    }
    out = []
    for r in as_rows(verdicts):
        if r.get("label") not in winner or r.get("status", "ok") != "ok":
            continue
        out.append(
            {
                "prompt_id": str(r["prompt_id"]),
                "model_a": r["model_a"],
                "model_b": r["model_b"],
                "winner": winner[r["label"]],
                "judge": r.get("judge"),
                "weight": strong_weight if r["label"] in ("A>>B", "B>>A") else 1.0,
                "category": r.get("category"),
                "aspect": r.get("aspect", aspect),
                "game": int(r.get("game") or 1),
            }
        )
    schema = pa.schema(
        [
            ("prompt_id", pa.string()),
            ("model_a", pa.string()),
            ("model_b", pa.string()),
            ("winner", pa.string()),
            ("judge", pa.string()),
            ("weight", pa.float64()),
            ("category", pa.string()),
            ("aspect", pa.string()),
            ("game", pa.int64()),
        ]
    )
    return pa.Table.from_pylist(out, schema=schema)
