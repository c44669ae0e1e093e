"""Adapter for K-wise rankings (K-Sort Arena votes, gallery rankings) read as comparisons."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pyarrow as pa

from preflab.data._adapters_base import (
    RAW_WINNER,
    ROW,
    SKIP_HINT,
    AdapterOptions,
    Candidate,
    Problem,
    as_string,
    require,
    row_ids,
    to_array,
)


def _groups(value: object) -> list[list[str]] | None:
    """Best-first groups from ``[[a], [b, c]]`` (ties grouped) or a flat ``[a, b, c]``."""
    if not isinstance(value, list):
        return None
    return [[str(m) for m in g] if isinstance(g, list) else [str(g)] for g in value]


def rankings(raw: pa.Table, path: str, opts: AdapterOptions) -> Candidate:
    """A rankings table (DESIGN.md): ``prompt_id, models`` (+ ``judge, aspect``), ``models``
    best first, each element a group of tied models (a flat list means no ties).

    Every ranking of K models becomes its K(K-1)/2 implied comparisons ("rank breaking", as
    :func:`preflab.data.rankings_to_comparisons`): ``model_a`` is the model listed first and
    wins unless both are in the same group (``tie``). Counts of kept and rejected rows are in
    comparisons. A ranking naming a model twice, or with fewer than two models, is invalid.
    """
    require(raw, ["models"], path, "rankings",
            "A rankings table has prompt_id and models (best first, tied models grouped).")
    n = raw.num_rows
    pid = (to_array(as_string(raw.column("prompt_id"))) if "prompt_id" in raw.column_names
           else row_ids(n))
    rows: list[int] = []
    model_a: list[str] = []
    model_b: list[str] = []
    winner: list[str] = []
    bad_rows: list[int] = []
    reasons: list[str] = []
    for i, value in enumerate(raw.column("models").to_pylist()):
        groups = _groups(value)
        flat = [(m, g) for g, group in enumerate(groups or []) for m in group]
        names = [m for m, _ in flat]
        if groups is None or len(flat) < 2 or len(set(names)) < len(names):
            # one placeholder comparison carries the row to the rejects
            rows.append(i)
            model_a.append(names[0] if names else "")
            model_b.append(names[1] if len(names) > 1 else "")
            winner.append("tie")
            bad_rows.append(len(rows) - 1)
            reasons.append("no ranking" if groups is None else "fewer than two models"
                           if len(flat) < 2 else "a model appears twice")
            continue
        for (m1, g1), (m2, g2) in combinations(flat, 2):
            rows.append(i)
            model_a.append(m1)
            model_b.append(m2)
            winner.append("tie" if g1 == g2 else "model_a")
    idx = pa.array(np.asarray(rows, dtype=np.int64))
    cols: dict[str, pa.Array] = {
        ROW: idx, "prompt_id": pid.take(idx),
        "model_a": pa.array(model_a, pa.string()), "model_b": pa.array(model_b, pa.string()),
        "winner": pa.array(winner, pa.string()), RAW_WINNER: pa.array(winner, pa.string()),
    }
    for name in ("judge", "aspect", "category"):
        if name in raw.column_names:
            cols[name] = to_array(as_string(raw.column(name))).take(idx)
    mask = np.zeros(len(rows), dtype=bool)
    mask[bad_rows] = True
    values: list[str | None] = [None] * len(rows)
    for k, reason in zip(bad_rows, reasons, strict=True):
        values[k] = reason
    problem = Problem(mask=mask, field="models", reason="invalid ranking: {value}",
                      fix=f"List each model once, at least two per ranking, {SKIP_HINT}",
                      values=pa.array(values, pa.string()))
    return Candidate(pa.table(cols), fields={"winner": "models"}, problems=(problem,))
