"""Adapters for battle-shaped tables: ``native``, ``arena`` (Chatbot Arena) and ``columns``.

All three produce one comparison per input row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from preflab.data._adapters_base import (
    RAW_WINNER,
    ROW,
    SKIP_HINT,
    AdapterOptions,
    Candidate,
    as_string,
    as_text,
    cast_column,
    fill_prompt_ids,
    map_labels,
    require,
    row_ids,
    sum_struct,
    to_array,
)
from preflab.data._schema import COMPARISON_FIELDS, style_columns

ARENA_LABELS = {"tie (bothbad)": "tie_bothbad"}
"""Chatbot Arena spellings mapped to the schema's winners."""

ID_COLUMNS = ("battle_id", "comparison_id")
"""Columns that, when present, must be unique (one row per battle)."""

ARENA_STYLE_KEYS = {
    "tokens": "sum_assistant_{side}_tokens",
    "headers": "header_count_{side}",
    "lists": "list_count_{side}",
    "bold": "bold_count_{side}",
}
"""FastChat ``conv_metadata`` keys of the style features (dict-valued ones are summed)."""

_TYPES = {f.name: f.type for f in COMPARISON_FIELDS}
_OPTIONAL = [f.name for f in COMPARISON_FIELDS if f.name not in
             ("prompt_id", "model_a", "model_b", "winner")]


def _winner_fix(opts: AdapterOptions) -> str:
    return f"Map labels with --winner-map A=model_a,B=model_b, {SKIP_HINT}"


def _base(raw: pa.Table, a: str, b: str, w: str, opts: AdapterOptions,
          default_map: dict[str, str]) -> dict[str, pa.Array]:
    n = raw.num_rows
    mapping = dict(default_map)
    mapping.update(opts.winner_map or {})
    winner_raw = as_text(raw.column(w))
    return {
        ROW: pa.array(np.arange(n, dtype=np.int64)),
        "model_a": as_text(raw.column(a)),
        "model_b": as_text(raw.column(b)),
        "winner": map_labels(winner_raw, mapping),
        RAW_WINNER: winner_raw,
    }


def _prompt_ids(raw: pa.Table, cols: dict[str, pa.Array], names: tuple[str, ...],
                fill_nulls: bool) -> str:
    for name in names:
        if name and name in raw.column_names:
            col = raw.column(name)
            cols["prompt_id"] = (fill_prompt_ids(col, cols[ROW]) if fill_nulls
                                 else to_array(as_string(col)))
            return name
    cols["prompt_id"] = row_ids(raw.num_rows)
    return "prompt_id"


def _carry(raw: pa.Table, cols: dict[str, pa.Array], skip: set[str], path: str) -> None:
    for name in _OPTIONAL + style_columns(raw.column_names):
        if name in raw.column_names and name not in cols and name not in skip:
            cols[name] = cast_column(raw, name, _TYPES.get(name, pa.float64()), path)


def _unique_ids(raw: pa.Table, cols: dict[str, pa.Array],
                opts: AdapterOptions) -> tuple[tuple[tuple[str, ...], str], ...]:
    names = (opts.id_column,) if opts.id_column else ID_COLUMNS
    for name in names:
        if name and name in raw.column_names:
            cols["_id"] = to_array(as_string(raw.column(name)))
            return ((("_id",), name),)
    return ()


def native(raw: pa.Table, path: str, opts: AdapterOptions) -> Candidate:
    """An already-conforming comparisons table (see DESIGN.md).

    ``prompt_id`` may be absent (ids are generated as ``row:<n>``, ``n`` the 0-based input row);
    ``tie (bothbad)`` is accepted for ``tie_bothbad``; ``battle_id``/``comparison_id`` (or
    ``--id-column``) must be unique when present.
    """
    require(raw, ["model_a", "model_b", "winner"], path, "native",
            "Name the columns with --model-a/--model-b/--winner, or pick a format with --from.")
    cols = _base(raw, "model_a", "model_b", "winner", opts, ARENA_LABELS)
    _prompt_ids(raw, cols, ("prompt_id",), fill_nulls=False)
    _carry(raw, cols, set(), path)
    unique = _unique_ids(raw, cols, opts)
    return Candidate(pa.table(cols), fields={}, unique=unique, winner_fix=_winner_fix(opts),
                     generated_prompt_ids="prompt_id" not in raw.column_names)


def _arena_feature(raw: pa.Table, key: str) -> pa.Array | None:
    names = raw.column_names
    if key in names:
        return sum_struct(raw.column(key))
    if "conv_metadata" in names:
        meta = to_array(raw.column("conv_metadata"))
        if pa.types.is_struct(meta.type) and meta.type.get_field_index(key) >= 0:
            return sum_struct(pc.struct_field(meta, [meta.type.get_field_index(key)]))
    dotted = [c for c in names
              if c == f"conv_metadata.{key}" or c.startswith(f"conv_metadata.{key}.")]
    if dotted:  # pandas.json_normalize spelling
        total = sum_struct(raw.column(dotted[0]))
        for c in dotted[1:]:
            total = pc.add(total, sum_struct(raw.column(c)))
        return total
    return None


def arena(raw: pa.Table, path: str, opts: AdapterOptions) -> Candidate:
    """Chatbot Arena / FastChat battles: ``model_a, model_b, winner`` (+ optional metadata).

    - ``winner``: ``model_a``, ``model_b``, ``tie`` and ``tie (bothbad)`` (-> ``tie_bothbad``);
      other column names and labels through ``model_a``/``model_b``/``winner``/``winner_map``.
    - ``prompt_id`` from ``question_id`` (or ``prompt_id``); rows without one get the stable id
      ``row:<n>``, ``n`` the 0-based input row.
    - ``judge``: FastChat's voter id, written as ``human:<id>`` (unless it already has a ``kind:``
      prefix); ``language``, ``turn``, ``tstamp``, ``category``, ``weight`` carried when present.
    - Style features (LMArena style control), per side ``a``/``b``, from FastChat's nested
      ``conv_metadata`` or the flat columns of its flattened battles:
      ``style_*_tokens`` = ``sum_assistant_*_tokens``; ``style_*_headers`` = sum of
      ``header_count_*`` (h1..h6); ``style_*_lists`` = sum of ``list_count_*`` (ordered,
      unordered); ``style_*_bold`` = sum of ``bold_count_*`` (``**``, ``__``). Integer columns are
      taken as already-summed counts.
    """
    a, b, w = opts.model_a or "model_a", opts.model_b or "model_b", opts.winner or "winner"
    require(raw, [a, b, w], path, "arena",
            "Chatbot Arena battles need model_a, model_b and winner; for other column names use "
            "--model-a/--model-b/--winner.")
    cols = _base(raw, a, b, w, opts, ARENA_LABELS)
    pid = _prompt_ids(raw, cols, (opts.prompt_id or "", "question_id", "prompt_id"),
                      fill_nulls=True)
    judge_col = opts.judge or "judge"
    if judge_col in raw.column_names:
        j = to_array(as_string(raw.column(judge_col)))
        prefix = opts.judge_prefix or "human:"
        has_kind = pc.match_substring_regex(j, r"^[a-z]+:")
        cols["judge"] = pc.if_else(has_kind, j, pc.binary_join_element_wise(prefix, j, ""))
    for feature, key in ARENA_STYLE_KEYS.items():
        for side in ("a", "b"):
            col = _arena_feature(raw, key.format(side=side))
            if col is not None:
                cols[f"style_{side}_{feature}"] = col.cast(pa.float64())
    _carry(raw, cols, {"judge"} if "judge" in cols else set(), path)
    unique = _unique_ids(raw, cols, opts)
    generated = not any(n and n in raw.column_names
                        for n in (opts.prompt_id, "question_id", "prompt_id"))
    return Candidate(pa.table(cols),
                     fields={"prompt_id": pid, "model_a": a, "model_b": b, "winner": w},
                     unique=unique, winner_fix=_winner_fix(opts), generated_prompt_ids=generated)


def columns(raw: pa.Table, path: str, opts: AdapterOptions) -> Candidate:
    """Any table with its own column names and labels, through a column map.

    ``model_a``/``model_b``/``winner`` name the input columns (defaults: the schema names);
    ``winner_map`` maps the input's labels to ``model_a, model_b, tie, tie_bothbad``
    (e.g. ``left=model_a,right=model_b,tie=tie``); labels already spelled as winners pass as
    they are. ``prompt_id`` names the prompt column (else ``row:<n>``), ``judge`` the judge
    column, written as ``<judge_prefix><value>`` (e.g. ``human:`` for crowd workers);
    ``weight`` a weight column; ``id_column`` a column that must be unique. Columns already
    named like optional schema columns (``category``, ``tstamp``, ``style_a_tokens``...) are
    carried.

    Example (LLMFAO crowd votes): ``model_a="left", model_b="right", winner="winner",
    winner_map={"left": "model_a", "right": "model_b", "tie": "tie"}, prompt_id="prompt_id",
    judge="worker", judge_prefix="human:"``.
    """
    a, b, w = opts.model_a or "model_a", opts.model_b or "model_b", opts.winner or "winner"
    require(raw, [a, b, w], path, "columns",
            "Name the columns with --model-a COL --model-b COL --winner COL.")
    cols = _base(raw, a, b, w, opts, {})
    pid = _prompt_ids(raw, cols, (opts.prompt_id or "prompt_id",), fill_nulls=False)
    if opts.prompt_id and opts.prompt_id not in raw.column_names:
        require(raw, [opts.prompt_id], path, "columns", "Check --prompt-id.")
    fields = {"model_a": a, "model_b": b, "winner": w, "prompt_id": pid}
    if opts.judge:
        require(raw, [opts.judge], path, "columns", "Check --judge-col.")
        cols["judge"] = pc.binary_join_element_wise(
            opts.judge_prefix, to_array(as_string(raw.column(opts.judge))), "")
        fields["judge"] = opts.judge
    if opts.weight:
        require(raw, [opts.weight], path, "columns", "Check --weight-col.")
        cols["weight"] = cast_column(raw, opts.weight, pa.float64(), path)
        fields["weight"] = opts.weight
    _carry(raw, cols, {a, b, w}, path)
    unique = _unique_ids(raw, cols, opts)
    return Candidate(pa.table(cols), fields=fields, unique=unique, winner_fix=_winner_fix(opts),
                     generated_prompt_ids=pid not in raw.column_names)
