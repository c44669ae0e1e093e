"""Reading step-level data: solution trees, step pairs, first-error items, step candidates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from preflab._errors import DataError
from preflab.data import read_table
from preflab.rm._pairs import PreferencePairs
from preflab.rm._process import (
    StepNode,
    StepPair,
    step_context,
    step_pairs_from_tree,
    step_pairs_to_preferences,
)


def _require(t: pa.Table, cols: list[str], path: str, what: str) -> None:
    missing = [c for c in cols if c not in t.column_names]
    if missing:
        raise DataError(f"{what} needs columns {missing}", path=path, field=missing[0],
                        fix=f"{what} files have columns {', '.join(cols)}.")


def _filter_split(t: pa.Table, split: str | None) -> pa.Table:
    if split is None or "split" not in t.column_names:
        return t
    return t.filter(pc.equal(t.column("split"), split))


def read_trees(path: str | Path, **kw: Any) -> list[StepPair]:
    """Step pairs from a file of solution trees: columns ``problem`` and ``tree`` (a nested
    ``{text, q, children}`` object or its JSON text); ``kw`` go to
    :func:`~preflab.rm._process.step_pairs_from_tree`."""
    t = read_table(path)
    _require(t, ["problem", "tree"], str(path), "solution trees")
    out: list[StepPair] = []
    for i, (prob, tree) in enumerate(zip(t.column("problem").to_pylist(),
                                         t.column("tree").to_pylist(), strict=True)):
        if isinstance(tree, str):
            try:
                tree = json.loads(tree)
            except json.JSONDecodeError as exc:
                raise DataError(f"tree is not valid JSON: {exc.msg}", path=str(path), row=i,
                                field="tree", fix="Write the tree as a JSON object.") from exc
        try:
            root = StepNode.from_dict(tree)
        except DataError as exc:
            raise DataError(exc.reason, path=str(path), row=i, field="tree", fix=exc.fix) from exc
        out += step_pairs_from_tree(str(prob), root, **kw)
    return out


def read_step_pairs(path: str | Path, *, split: str | None = None,
                    human_chosen: bool = True) -> PreferencePairs:
    """Step preference pairs: PRM800K's ``step_pairs.parquet`` layout (``problem,
    prefix_steps, chosen, rejected``) or a trees file (``problem, tree``).

    ``human_chosen=False`` leaves out pairs whose chosen step was written by a labeller
    (``chosen_is_human``), so the model cannot learn "human style wins" instead of
    correctness."""
    t = read_table(path)
    if "tree" in t.column_names:
        return step_pairs_to_preferences(read_trees(path))
    _require(t, ["problem", "prefix_steps", "chosen", "rejected"], str(path), "step pairs")
    t = _filter_split(t, split)
    if not human_chosen and "chosen_is_human" in t.column_names:
        t = t.filter(pc.invert(pc.fill_null(t.column("chosen_is_human"), False)))
    prob = t.column("problem").to_pylist()
    pre = t.column("prefix_steps").to_pylist()
    ctx = [step_context(str(p), list(s or [])) for p, s in zip(prob, pre, strict=True)]
    return PreferencePairs.from_lists(ctx, [str(c) for c in t.column("chosen").to_pylist()],
                                      [str(r) for r in t.column("rejected").to_pylist()])


def read_first_error(path: str | Path, *, split: str | None = None
                     ) -> tuple[list[str], list[list[str]], list[int]]:
    """ProcessBench-shaped items ``problem, steps, label`` (``-1`` = no wrong step)."""
    t = _filter_split(read_table(path), split)
    _require(t, ["problem", "steps", "label"], str(path), "first-error items")
    return ([str(p) for p in t.column("problem").to_pylist()],
            [list(s or []) for s in t.column("steps").to_pylist()],
            [int(v) for v in t.column("label").to_pylist()])


def step_candidates(path: str | Path, *, split: str | None = None) -> pa.Table:
    """Best-of-N candidates from PRM800K's ``steps.parquet``: every rated alternative at a step
    with at least one +1 and one -1 alternative; ``quality`` = 1 for +1, 0 otherwise.

    Columns: ``group`` (solution_id/step_index), ``problem``, ``steps`` (prefix +
    candidate), ``quality``.
    """
    t = _filter_split(read_table(path), split)
    _require(t, ["solution_id", "step_index", "problem", "completions"], str(path), "steps")
    if "duplicate_of" in t.column_names:
        t = t.filter(pc.is_null(t.column("duplicate_of")))
    rows = t.select(["solution_id", "step_index", "problem", "completions"]).to_pylist()
    taken: dict[str, list[tuple[int, str | None]]] = {}
    if "step_text" in t.column_names:
        for sid, k, s in zip(t.column("solution_id").to_pylist(),
                             t.column("step_index").to_pylist(),
                             t.column("step_text").to_pylist(), strict=True):
            taken.setdefault(str(sid), []).append((int(k), s))
    prefix = {sid: [s for _, s in sorted(v, key=lambda x: x[0])] for sid, v in taken.items()}
    out: dict[str, list[Any]] = {"group": [], "problem": [], "steps": [], "quality": []}
    for r in rows:
        comps = [c for c in (r["completions"] or []) if c.get("rating") is not None]
        ratings = [c["rating"] for c in comps]
        if 1 not in ratings or -1 not in ratings:
            continue
        pre = [s for s in prefix.get(r["solution_id"], [])[: r["step_index"]] if s is not None]
        seen: set[str] = set()
        for c in comps:
            if c["text"] in seen:
                continue
            seen.add(c["text"])
            out["group"].append(f"{r['solution_id']}/{r['step_index']}")
            out["problem"].append(r["problem"])
            out["steps"].append(pre + [c["text"]])
            out["quality"].append(float(c["rating"] == 1))
    return pa.table({"group": out["group"], "problem": out["problem"],
                     "steps": pa.array(out["steps"], pa.list_(pa.string())),
                     "quality": np.array(out["quality"], float)})
