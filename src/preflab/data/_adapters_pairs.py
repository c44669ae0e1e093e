"""Adapters for preference pairs: ``pairs`` (``prompt/chosen/rejected``, hh-rlhf dialogues,
chat-message lists) and ``judgebench`` (JudgeBench's labelled response pairs [JudgeBench24]_).

Both return a ``responses`` table too, because the comparisons table never copies texts.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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

ASSISTANT = "\n\nAssistant:"
"""hh-rlhf's marker of an assistant turn."""

PAIR_ID_COLUMNS = ("pair_id", "pair_index", "id", "prompt_id")
"""Columns used (first present) as the pair's ``prompt_id``; it must be unique."""


def split_dialogue(chosen: str, rejected: str) -> tuple[str, str, str]:
    """``(prompt, chosen_reply, rejected_reply)`` of an hh-rlhf pair.

    The prompt is the shared prefix of both transcripts up to and including its last
    ``"\\n\\nAssistant:"``; the replies are what follows. Without such a marker in the shared
    prefix, the prompt is the whole shared prefix.
    """
    common = os.path.commonprefix([chosen, rejected])
    cut = common.rfind(ASSISTANT)
    end = cut + len(ASSISTANT) if cut >= 0 else len(common)
    return chosen[:end], chosen[end:], rejected[end:]


def _message_text(value: object) -> tuple[str, str]:
    """(prompt, reply) of a chat-message list ``[{role, content}, ...]``: the reply is the last
    message, the prompt the earlier ones rendered as ``role: content`` lines."""
    if not isinstance(value, list) or not value:
        return "", "" if value is None else str(value)
    msgs = [m if isinstance(m, dict) else {"role": "", "content": str(m)} for m in value]
    prompt = "\n\n".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in msgs[:-1])
    return prompt, str(msgs[-1].get("content", ""))


def _texts(raw: pa.Table) -> tuple[list[str | None], list[str | None], list[str | None]]:
    chosen = raw.column("chosen").to_pylist()
    rejected = raw.column("rejected").to_pylist()
    prompts: list[str | None]
    if "prompt" in raw.column_names:
        prompts = [p if isinstance(p, str) or p is None else json.dumps(p)
                   for p in raw.column("prompt").to_pylist()]
        out_c = [_message_text(c)[1] if isinstance(c, list) else c for c in chosen]
        out_r = [_message_text(r)[1] if isinstance(r, list) else r for r in rejected]
        return prompts, out_c, out_r
    prompts, out_c, out_r = [], [], []
    for c, r in zip(chosen, rejected, strict=False):
        if isinstance(c, list) or isinstance(r, list):
            p, c_text = _message_text(c)
            r_text = _message_text(r)[1]
        elif c is None or r is None:
            p, c_text, r_text = None, c, r
        else:
            p, c_text, r_text = split_dialogue(c, r)
        prompts.append(p)
        out_c.append(c_text)
        out_r.append(r_text)
    return prompts, out_c, out_r


def _pair_ids(raw: pa.Table, opts: AdapterOptions) -> tuple[pa.Array, str | None]:
    names = (opts.prompt_id,) if opts.prompt_id else PAIR_ID_COLUMNS
    for name in names:
        if name and name in raw.column_names:
            return to_array(as_string(raw.column(name))), name
    return row_ids(raw.num_rows), None


def pairs(raw: pa.Table, path: str, opts: AdapterOptions) -> Candidate:
    """Preference pairs: ``chosen, rejected`` (+ optional ``prompt``).

    - The chosen response is ``model_a`` and always wins (``winner = model_a``).
    - Model names: ``chosen_model``/``rejected_model`` columns when present, else the
      options ``chosen_model``/``rejected_model`` (default ``"chosen"``/``"rejected"``).
    - Texts: with a ``prompt`` column, ``chosen``/``rejected`` are the replies (a chat-message
      list gives its last message); without one, hh-rlhf transcripts are split by
      :func:`split_dialogue` (the prompt is the shared prefix up to the last
      ``\\n\\nAssistant:``).
    - ``prompt_id``: the first of ``pair_id, pair_index, id, prompt_id`` present (must be
      unique), else ``row:<n>``; ``judge``, ``category`` carried when present.
    - ``responses``: ``(prompt_id, model, text, prompt)`` for both sides.
    """
    require(raw, ["chosen", "rejected"], path, "pairs",
            "Preference pairs need chosen and rejected columns.")
    n = raw.num_rows
    pid, pid_name = _pair_ids(raw, opts)
    if "chosen_model" in raw.column_names and "rejected_model" in raw.column_names:
        ma = to_array(as_string(raw.column("chosen_model")))
        mb = to_array(as_string(raw.column("rejected_model")))
        fields = {"model_a": "chosen_model", "model_b": "rejected_model"}
    else:
        ma = pa.array([opts.chosen_model] * n, pa.string())
        mb = pa.array([opts.rejected_model] * n, pa.string())
        fields = {}
    cols: dict[str, pa.Array] = {
        ROW: pa.array(np.arange(n, dtype=np.int64)),
        "prompt_id": pid, "model_a": ma, "model_b": mb,
        "winner": pa.array(["model_a"] * n, pa.string()),
        RAW_WINNER: pa.array(["model_a"] * n, pa.string()),
    }
    for name in ("judge", "category", "aspect"):
        if name in raw.column_names:
            cols[name] = to_array(as_string(raw.column(name)))
    prompts, out_c, out_r = _texts(raw)
    missing = np.array([c is None or r is None for c, r in zip(out_c, out_r, strict=True)],
                       dtype=bool)
    which = pa.array(["chosen" if c is None else "rejected" for c in out_c], pa.string())
    prompt_text = pa.array(prompts, pa.string())
    responses = pa.concat_tables([
        pa.table({ROW: cols[ROW], "prompt_id": pid, "model": model,
                  "text": pa.array(text, pa.string()), "prompt": prompt_text})
        for model, text in ((ma, out_c), (mb, out_r))
    ])
    unique = (((("prompt_id",), pid_name),) if pid_name else ())
    problems = (Problem(mask=missing, field="chosen/rejected", reason="missing {value} text",
                        fix=f"Every pair needs both texts; fill or drop the row, {SKIP_HINT}",
                        values=which),)
    return Candidate(pa.table(cols), fields={**fields, "prompt_id": pid_name or "prompt_id"},
                     problems=problems, unique=unique, responses=responses)


JUDGEBENCH_LABELS = {"A>B": "model_a", "B>A": "model_b"}


def judgebench(raw: pa.Table, path: str, opts: AdapterOptions) -> Candidate:
    """JudgeBench pairs: ``pair_id, question, response_A, response_B, label`` (``A>B``/``B>A``).

    Both responses come from the same ``response_model``, so the compared "models" are the
    positions: ``model_a = "response_A"``, ``model_b = "response_B"`` (the options
    ``chosen_model``/``rejected_model`` do not apply). The label is objective (which response is
    correct): ``winner`` is ``model_a`` for ``A>B`` and ``model_b`` for ``B>A``, and ``judge``
    is ``verifier:judgebench``. ``prompt_id`` = ``pair_id`` (unique); ``category`` carried.
    ``responses`` holds both texts with the question as prompt, keyed by
    ``(pair_id, response_A|response_B)``. Any other label is invalid.
    """
    require(raw, ["pair_id", "response_A", "response_B", "label"], path, "judgebench",
            "JudgeBench pairs have pair_id, question, response_A, response_B and label.")
    n = raw.num_rows
    label = to_array(as_string(raw.column("label")))
    keys = pa.array(list(JUDGEBENCH_LABELS), pa.string())
    idx = pc.index_in(pc.utf8_trim_whitespace(label), value_set=keys)
    pid = to_array(as_string(raw.column("pair_id")))
    cols: dict[str, pa.Array] = {
        ROW: pa.array(np.arange(n, dtype=np.int64)),
        "prompt_id": pid,
        "model_a": pa.array(["response_A"] * n, pa.string()),
        "model_b": pa.array(["response_B"] * n, pa.string()),
        "winner": pc.take(pa.array(list(JUDGEBENCH_LABELS.values()), pa.string()), idx),
        RAW_WINNER: label,
        "judge": pa.array(["verifier:judgebench"] * n, pa.string()),
    }
    if "category" in raw.column_names:
        cols["category"] = to_array(as_string(raw.column("category")))
    question = (to_array(raw.column("question")).cast(pa.string()) if "question" in raw.column_names
                else pa.nulls(n, pa.string()))
    responses = pa.concat_tables([
        pa.table({ROW: cols[ROW], "prompt_id": pid, "model": pa.array([name] * n, pa.string()),
                  "text": to_array(raw.column(name)).cast(pa.string()), "prompt": question})
        for name in ("response_A", "response_B")
    ])
    bad = np.asarray(pc.is_null(idx).to_numpy(zero_copy_only=False), dtype=bool)
    problems = (Problem(mask=bad, field="label", reason="'{value}' is not A>B or B>A",
                        fix=f"JudgeBench labels are A>B or B>A; fix the label, {SKIP_HINT}",
                        values=label),)
    return Candidate(pa.table(cols), fields={"prompt_id": "pair_id", "winner": "label"},
                     problems=problems, unique=((("prompt_id",), "pair_id"),),
                     responses=responses)
