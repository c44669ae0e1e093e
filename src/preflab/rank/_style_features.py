"""Style counts of answers (markdown headers, list items, bold spans, tokens), as LMArena's
``fastchat/serve/monitor/add_markdown_info.py`` counts them, the ``style_a_*`` /
``style_b_*`` columns of a comparisons table computed from the responses table, and the
contextual-BT design (:class:`StyleDesign`) built from those columns."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from preflab._errors import DataError
from preflab.rank._indexing import first_null, models_and_outcomes, numeric
from preflab.rank._ratings import FloatArray, IntArray

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


@dataclass(frozen=True, slots=True)
class StyleDesign:
    """The battles as arrays: ``pairs`` (k, 2) distinct ordered pairs, ``pair_id`` (n,) of each
    battle, ``y`` (n,) outcomes, ``w`` (n,) weights, ``x`` (n, f) z-scored features,
    ``cluster`` (n,) ids or ``None``."""

    models: tuple[str, ...]
    pairs: IntArray
    pair_id: IntArray
    y: FloatArray
    w: FloatArray
    x: FloatArray
    features: tuple[str, ...]
    mean: FloatArray
    std: FloatArray
    cluster: IntArray | None = None


def style_design(table: pa.Table, *, features: tuple[str, ...] = DEFAULT_FEATURES,
                 ties: str = "half", cluster: str | None = None) -> StyleDesign:
    """Build the contextual-BT design from the ``style_a_<f>`` / ``style_b_<f>`` columns."""
    cols = table.column_names
    missing = [f"style_{s}_{f}" for f in features for s in "ab" if f"style_{s}_{f}" not in cols]
    if missing:
        raise DataError(
            f"style control needs the columns {', '.join(missing)}", field=missing[0],
            fix="Convert Chatbot Arena battles with `preflab convert --from arena` (it maps "
                "conv_metadata / sum_assistant_a_tokens ... to style_a_tokens ...), or pick "
                "features that exist with --style-features.")
    models, ia, ib, y, keep = models_and_outcomes(table, ties)
    n = len(models)
    # battles ordered by pair (one stable sort; a radix sort when the codes fit 16 bits), so
    # per-pair sums walk memory in order and the bootstrap can sum pairs by np.add.reduceat
    rows = None if keep.all() else np.flatnonzero(keep)
    code = ia * n + ib if rows is None else ia[rows] * n + ib[rows]
    order = np.argsort(code.astype(np.uint16) if n * n <= 1 << 16 else code, kind="stable")
    sc = code[order]
    if rows is not None:
        order = rows[order]
    first = np.empty(len(sc), bool)
    first[:1] = True
    np.not_equal(sc[1:], sc[:-1], out=first[1:])
    uniq = sc[first]
    pid = np.cumsum(first) - 1
    pairs = np.column_stack([uniq // n, uniq % n]).astype(np.int64)
    # features stored feature-major (x is the (battles, features) transposed view)
    xt = np.empty((len(features), len(order)))
    for j, f in enumerate(features):
        ca = table.column(f"style_a_{f}")
        cb = table.column(f"style_b_{f}")
        for name, col in ((f"style_a_{f}", ca), (f"style_b_{f}", cb)):
            if col.null_count:
                raise DataError("missing style value", row=first_null(col), field=name,
                                fix="Fill the style counts (0 if absent) or drop --style-control.")
        va = numeric(ca)[order]
        vb = numeric(cb)[order]
        np.subtract(va, vb, out=xt[j])
        va += vb
        va += 1.0
        xt[j] /= va
    mean, std = np.empty(len(features)), np.empty(len(features))
    for j in range(len(features)):  # z-score in place (population sd), no temporaries
        mean[j] = xt[j].mean()
        xt[j] -= mean[j]
        std[j] = np.sqrt(np.dot(xt[j], xt[j]) / max(len(order), 1))
        xt[j] /= std[j] if std[j] > 1e-12 else 1.0
    if np.any(std <= 1e-12):  # d is in [-1, 1]: a smaller sd is rounding of a constant
        bad = [f for f, s in zip(features, std, strict=True) if s <= 1e-12]
        raise DataError(f"style feature(s) {', '.join(bad)} never vary", field=bad[0],
                        fix="Leave constant features out of --style-features.")
    if "weight" in cols and table.column("weight").null_count:
        raise DataError("missing weight", row=first_null(table.column("weight")),
                        field="weight", fix="Fill the weights (1 for a plain vote).")
    w = numeric(table.column("weight"))[order] if "weight" in cols else np.ones(len(order))
    cl = None
    if cluster is not None:
        if cluster not in cols:
            raise DataError(f"no column '{cluster}' to cluster by", field=cluster,
                            fix=f"Use one of {', '.join(cols)}.")
        enc = pc.dictionary_encode(table.column(cluster).cast(pa.string()).combine_chunks())
        cl = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)[order]
    return StyleDesign(models, pairs, pid.astype(np.int64), y[order], w, xt.T,
                       tuple(features), mean, std, cl)
