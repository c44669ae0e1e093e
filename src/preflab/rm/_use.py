"""Using a reward model: a scores table, a pairwise judge writing comparisons, best-of-N."""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from typing import Any

import numpy as np
import pyarrow as pa

from preflab._errors import DataError
from preflab.data import conform
from preflab.rm._process import BestOfNResult, best_of_n_gain


def _texts(responses: pa.Table, path: str = "<responses>") -> dict[str, list[Any]]:
    for col in ("prompt_id", "model", "text"):
        if col not in responses.column_names:
            raise DataError(f"the responses table has no '{col}' column", path=path, field=col,
                            fix="A responses table has prompt_id, model, text (+ prompt, image).")
    n = responses.num_rows
    cols = {c: responses.column(c).to_pylist() for c in responses.column_names}
    out = {"prompt_id": [str(v) for v in cols["prompt_id"]],
           "model": [str(v) for v in cols["model"]],
           "text": cols["text"], "prompt": cols.get("prompt", [""] * n),
           "image": cols.get("image", [None] * n)}
    for i, t in enumerate(out["text"]):
        if t is None:
            raise DataError("missing response text", path=path, row=i, field="text",
                            fix="Fill the text or drop the row before scoring.")
    out["prompt"] = ["" if p is None else str(p) for p in out["prompt"]]
    return out


def _judge_name(model: Any) -> str:
    return f"rm:{model.name}"


def score_responses(model: Any, responses: pa.Table, *, aspect: str | None = None,
                    path: str = "<responses>") -> pa.Table:
    """Score every response: a scores table ``prompt_id, model, score, judge, aspect``.

    ``judge`` is ``rm:<model name>``; ``aspect`` is the head used (``overall`` for the
    combined reward). Images (the responses ``image`` column) are passed to the model.
    """
    t = _texts(responses, path)
    s = model.score(t["prompt"], t["text"], aspect=aspect, images=t["image"])
    n = len(s)
    return conform(pa.table({
        "prompt_id": t["prompt_id"], "model": t["model"], "score": np.asarray(s, float),
        "judge": [_judge_name(model)] * n, "aspect": [aspect or "overall"] * n,
    }), "scores")


def rm_judge(model: Any, responses: pa.Table, comparisons: pa.Table | None = None, *,
             tie_margin: float = 0.0, aspect: str | None = None,
             progress: Callable[..., None] | None = None) -> pa.Table:
    """The reward model as a pairwise judge: a comparisons table with ``judge = rm:<name>``.

    With ``comparisons``, its ``(prompt_id, model_a, model_b)`` pairs are judged (other columns
    kept, ``winner``/``judge`` replaced); without, every pair of models answering the same
    prompt. ``winner`` is ``model_a`` when ``r_a - r_b > tie_margin``, ``model_b`` when
    ``< -tie_margin``, else ``tie``; ``weight`` is :math:`|r_a - r_b|`.
    """
    t = _texts(responses)
    scores = dict(zip(zip(t["prompt_id"], t["model"], strict=True),
                      model.score(t["prompt"], t["text"], aspect=aspect, images=t["image"]),
                      strict=True))
    if comparisons is None:
        by_prompt: dict[str, list[str]] = {}
        for p, m in zip(t["prompt_id"], t["model"], strict=True):
            by_prompt.setdefault(p, []).append(m)
        rows = [(p, a, b) for p, ms in by_prompt.items() for a, b in combinations(ms, 2)]
        base = pa.table({"prompt_id": [r[0] for r in rows], "model_a": [r[1] for r in rows],
                         "model_b": [r[2] for r in rows]})
    else:
        base = comparisons
    pid = [str(v) for v in base.column("prompt_id").to_pylist()]
    ma = [str(v) for v in base.column("model_a").to_pylist()]
    mb = [str(v) for v in base.column("model_b").to_pylist()]
    winner, weight = [], []
    for i, (p, a, b) in enumerate(zip(pid, ma, mb, strict=True)):
        for m, f in ((a, "model_a"), (b, "model_b")):
            if (p, m) not in scores:
                raise DataError(f"no response for prompt_id '{p}', model '{m}'", row=i, field=f,
                                fix="Add it to the responses table or drop the comparison.")
        d = float(scores[(p, a)] - scores[(p, b)])
        winner.append("model_a" if d > tie_margin else "model_b" if d < -tie_margin else "tie")
        weight.append(abs(d))
        if progress is not None:
            progress(advance=1)
    out = base
    for name, values in (("winner", pa.array(winner, pa.string())),
                         ("judge", pa.array([_judge_name(model)] * len(pid), pa.string())),
                         ("weight", pa.array(weight, pa.float64())),
                         ("aspect", pa.array([aspect or "overall"] * len(pid), pa.string()))):
        if name in out.column_names:
            out = out.set_column(out.column_names.index(name), name, values)
        else:
            out = out.append_column(name, values)
    return conform(out, "comparisons")


def best_of_n(model: Any, responses: pa.Table, *, quality: str | None = None,
              aspect: str | None = None) -> tuple[pa.Table, BestOfNResult | None]:
    """Pick the highest-reward response per prompt.

    Returns the selected rows (``prompt_id, model, text, score``) and, when ``quality`` names a
    column of reference quality (e.g. a correctness label or a gold score, higher is better),
    the expected gain over a random pick measured on these prompts.
    """
    t = _texts(responses)
    s = model.score(t["prompt"], t["text"], aspect=aspect, images=t["image"])
    q = np.zeros(len(s))
    if quality is not None:
        if quality not in responses.column_names:
            raise DataError(f"no quality column '{quality}'", field=quality,
                            fix="Name a numeric column of the responses table.")
        q = np.array(responses.column(quality).to_pylist(), dtype=float)
    picks, res = best_of_n_gain(t["prompt_id"], s, q)
    table = pa.table({"prompt_id": [t["prompt_id"][i] for i in picks],
                      "model": [t["model"][i] for i in picks],
                      "text": [t["text"][i] for i in picks],
                      "score": np.asarray(s, float)[picks]})
    return table, (res if quality is not None else None)
