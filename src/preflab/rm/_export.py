"""Preference pairs for DPO/IPO/KTO and reward training, in the format TRL reads.

TRL's preference format is ``prompt, chosen, rejected`` (standard, not conversational)
[vonWerra20]_. Pairs come from a comparisons table with its responses (the winner's text is
chosen) or from a scores table (UltraFeedback-style binarization [Cui23]_: the best-scored
response is chosen and the rejected one is either the worst or a random other response).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from preflab._errors import DataError, PreflabError
from preflab.rm._pairs import pairs_from_tables
from preflab.rm._util import as_rng

log = logging.getLogger(__name__)
TRL_COLUMNS = ("prompt", "chosen", "rejected")


@dataclass(frozen=True, slots=True)
class ExportResult:
    """The pairs table and how many input items each filter removed (nothing is silent)."""

    table: pa.Table
    n_input: int
    removed: dict[str, int] = field(default_factory=dict)

    def for_format(self, fmt: str) -> pa.Table:
        """``trl``: only ``prompt, chosen, rejected``; ``jsonl``: every column."""
        if fmt == "trl":
            return self.table.select(list(TRL_COLUMNS))
        if fmt == "jsonl":
            return self.table
        raise PreflabError(f"unknown export format '{fmt}'; use trl or jsonl")


def _finish(rows: list[dict[str, Any]], n_input: int, removed: dict[str, int], *,
            dedupe: bool, max_per_prompt: int | None, rng: Any) -> ExportResult:
    if dedupe:
        seen: set[tuple[str, str, str]] = set()
        kept = []
        for r in rows:
            key = (r["prompt"], r["chosen"], r["rejected"])
            if key not in seen:
                seen.add(key)
                kept.append(r)
        removed["duplicate"] = len(rows) - len(kept)
        rows = kept
    if max_per_prompt is not None:
        gen = as_rng(rng)
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(rows):
            groups.setdefault(r["prompt_id"], []).append(i)
        keep: set[int] = set()
        for idx in groups.values():
            pick = idx if len(idx) <= max_per_prompt else gen.choice(idx, max_per_prompt,
                                                                      replace=False).tolist()
            keep.update(pick)
        removed["balance"] = len(rows) - len(keep)
        rows = [r for i, r in enumerate(rows) if i in keep]
    for k, v in removed.items():
        if v:
            log.info("export pairs: %d removed by %s", v, k)
    schema = pa.schema([("prompt", pa.string()), ("chosen", pa.string()),
                        ("rejected", pa.string()), ("prompt_id", pa.string()),
                        ("chosen_model", pa.string()), ("rejected_model", pa.string()),
                        ("margin", pa.float64()), ("tie", pa.bool_()),
                        ("chosen_image", pa.string()), ("rejected_image", pa.string())])
    table = pa.Table.from_pylist(rows, schema=schema)
    return ExportResult(table, n_input, removed)


def export_from_comparisons(
    comparisons: pa.Table, responses: pa.Table, *, ties: str = "drop",
    min_weight: float | None = None, dedupe: bool = True, max_per_prompt: int | None = None,
    rng: np.random.Generator | int | None = 0, path: str = "<comparisons>",
) -> ExportResult:
    """Pairs from comparisons + responses.

    Parameters
    ----------
    ties:
        ``"drop"`` (default) or ``"keep"`` (kept with ``tie = true``; model_a's text is in
        ``chosen``).
    min_weight:
        Keep only verdicts with ``weight >= min_weight`` (a margin filter: e.g. 3 keeps only
        Arena-Hard's ``A>>B``); ``margin`` in the output is the verdict weight.
    dedupe:
        Drop repeated ``(prompt, chosen, rejected)`` triples.
    max_per_prompt:
        Per-prompt balancing: at most this many pairs a prompt, sampled with ``rng``.
    """
    if ties not in ("drop", "keep"):
        raise PreflabError(f"ties must be drop or keep, not '{ties}'")
    pairs = pairs_from_tables(comparisons, responses, path=path)
    models = _winner_models(comparisons)
    rows, removed = [], {"tie": 0, "min_weight": 0}
    for i in range(len(pairs)):
        if pairs.tie[i] and ties == "drop":
            removed["tie"] += 1
            continue
        if min_weight is not None and pairs.strength[i] < min_weight:
            removed["min_weight"] += 1
            continue
        rows.append({"prompt": pairs.prompt[i], "chosen": pairs.chosen[i],
                     "rejected": pairs.rejected[i], "prompt_id": pairs.pair_id[i],
                     "chosen_model": models[i][0], "rejected_model": models[i][1],
                     "margin": float(pairs.strength[i]), "tie": bool(pairs.tie[i]),
                     "chosen_image": pairs.chosen_image[i],
                     "rejected_image": pairs.rejected_image[i]})
    return _finish(rows, len(pairs), removed, dedupe=dedupe, max_per_prompt=max_per_prompt,
                   rng=rng)


def _winner_models(comparisons: pa.Table) -> list[tuple[str, str]]:
    a = comparisons.column("model_a").to_pylist()
    b = comparisons.column("model_b").to_pylist()
    w = comparisons.column("winner").to_pylist()
    return [(str(y), str(x)) if win == "model_b" else (str(x), str(y))
            for x, y, win in zip(a, b, w, strict=True)]


def export_from_scores(
    scores: pa.Table, responses: pa.Table, *, method: str = "best-vs-random",
    min_gap: float = 0.0, aspect: str | None = None, dedupe: bool = True,
    rng: np.random.Generator | int | None = 0, path: str = "<scores>",
) -> ExportResult:
    """UltraFeedback-style binarization of pointwise scores.

    For each prompt, the highest-scored response is chosen (first on ties); the rejected one
    is the lowest-scored (``"best-vs-worst"``) or a uniformly random other response
    (``"best-vs-random"``, as UltraFeedback binarized). Prompts with fewer than two scored
    responses, or whose chosen-minus-rejected gap is below ``min_gap`` (or zero), are removed
    and counted. ``margin`` is the score gap. With ``aspect``, only that aspect's scores.
    """
    if method not in ("best-vs-random", "best-vs-worst"):
        raise PreflabError(f"method must be best-vs-random or best-vs-worst, not '{method}'")
    for col in ("prompt_id", "model", "score"):
        if col not in scores.column_names:
            raise DataError(f"the scores table has no '{col}' column", path=path, field=col,
                            fix="A scores table has prompt_id, model, score (+ judge, aspect).")
    gen = as_rng(rng)
    resp = {(str(r["prompt_id"]), str(r["model"])): r for r in responses.to_pylist()}
    groups: dict[str, dict[str, float]] = {}
    asp = scores.column("aspect").to_pylist() if "aspect" in scores.column_names else None
    for i, r in enumerate(scores.select(["prompt_id", "model", "score"]).to_pylist()):
        if aspect is not None and asp is not None and asp[i] != aspect:
            continue
        if r["score"] is None:
            raise DataError("missing score", path=path, row=i, field="score",
                            fix="Fill or drop the row.")
        key = (str(r["prompt_id"]), str(r["model"]))
        if key not in resp:
            raise DataError(f"no response for prompt_id '{key[0]}', model '{key[1]}'",
                            path=path, row=i, field="model",
                            fix="Add it to the responses table or drop the score.")
        groups.setdefault(key[0], {})[key[1]] = float(r["score"])
    rows, removed = [], {"single_response": 0, "min_gap": 0}
    for pid, by_model in groups.items():
        if len(by_model) < 2:
            removed["single_response"] += 1
            continue
        names = list(by_model)
        vals = np.array([by_model[m] for m in names])
        best = int(np.argmax(vals))
        others = [i for i in range(len(names)) if i != best]
        rej = (min(others, key=lambda i: vals[i]) if method == "best-vs-worst"
               else int(gen.choice(others)))
        gap = float(vals[best] - vals[rej])
        if gap <= 0 or gap < min_gap:
            removed["min_gap"] += 1
            continue
        c, r = resp[(pid, names[best])], resp[(pid, names[rej])]
        rows.append({"prompt": c.get("prompt") or r.get("prompt") or "",
                     "chosen": c.get("text") or "", "rejected": r.get("text") or "",
                     "prompt_id": pid, "chosen_model": names[best],
                     "rejected_model": names[rej], "margin": gap, "tie": False,
                     "chosen_image": c.get("image"), "rejected_image": r.get("image")})
    return _finish(rows, len(groups), removed, dedupe=dedupe, max_per_prompt=None, rng=gen)
