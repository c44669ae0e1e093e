"""Style counts of answers (markdown headers, list items, bold spans, tokens), as LMArena's
``fastchat/serve/monitor/add_markdown_info.py`` counts them, and the ``style_a_*`` /
``style_b_*`` columns of a comparisons table computed from the responses table."""

from __future__ import annotations

import re
from collections.abc import Callable

import pyarrow as pa

from preflab._errors import DataError

DEFAULT_FEATURES: tuple[str, ...] = ("tokens", "headers", "lists", "bold")

_CODE = re.compile(r"```[^`]*```")
_PATTERNS = {
    "headers": re.compile(r"^#{1,6}\s", re.MULTILINE),
    "lists": re.compile(r"^\s*(?:\d+\.|[-*+])\s", re.MULTILINE),
    "bold": re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__"),
}
_WORDS = re.compile(r"\w+|[^\w\s]")


def style_counts(text: str, count_tokens: Callable[[str], int] | None = None) -> dict[str, int]:
    """Style counts of one answer, as LMArena computes them (``add_markdown_info.py``):
    markdown headers (``#``..``######``), list items (ordered and unordered) and bold spans
    (``**x**``, ``__x__``) after removing fenced code blocks; ``tokens`` over the whole answer
    with ``count_tokens`` (default: words and punctuation marks, a tokenizer-free proxy for
    the tiktoken count Arena uses; the z-scored ratio feature barely depends on the unit)."""
    plain = _CODE.sub("", text)
    out = {k: len(p.findall(plain)) for k, p in _PATTERNS.items()}
    out["tokens"] = count_tokens(text) if count_tokens else len(_WORDS.findall(text))
    return out


def add_style_columns(comparisons: pa.Table, responses: pa.Table, *,
                      count_tokens: Callable[[str], int] | None = None) -> pa.Table:
    """Add ``style_a_<f>``/``style_b_<f>`` columns computed from the responses table's texts.

    ``responses`` has ``prompt_id, model, text``; every ``(prompt_id, model_a)`` and
    ``(prompt_id, model_b)`` of the comparisons must have a text.
    """
    for col in ("prompt_id", "model", "text"):
        if col not in responses.column_names:
            raise DataError(f"responses table lacks '{col}'", field=col,
                            fix="Give the responses as prompt_id, model, text.")
    cache: dict[tuple[str, str], dict[str, int]] = {}
    for pid, model, text in zip(responses.column("prompt_id").to_pylist(),
                                responses.column("model").to_pylist(),
                                responses.column("text").to_pylist(), strict=True):
        cache[(str(pid), str(model))] = style_counts(text or "", count_tokens)
    pids = [str(x) for x in comparisons.column("prompt_id").to_pylist()]
    cols: dict[str, list[int]] = {f"style_{s}_{f}": [] for s in "ab" for f in DEFAULT_FEATURES}
    for side in "ab":
        models = comparisons.column(f"model_{side}").to_pylist()
        for i, (pid, model) in enumerate(zip(pids, models, strict=True)):
            counts = cache.get((pid, str(model)))
            if counts is None:
                raise DataError(f"no response text for model '{model}' on prompt '{pid}'",
                                row=i, field=f"model_{side}",
                                fix="Add the answer to the responses table or drop the row.")
            for f in DEFAULT_FEATURES:
                cols[f"style_{side}_{f}"].append(counts[f])
    out = comparisons
    for name, values in cols.items():
        arr = pa.array(values, pa.float64())
        if name in out.column_names:
            out = out.set_column(out.column_names.index(name), name, arr)
        else:
            out = out.append_column(name, arr)
    return out
