"""The four tables everything meets in (see DESIGN.md): comparisons, scores, rankings, responses.

Required columns must be present and non-null; optional columns may be absent. Readers
and adapters produce tables with exactly these Arrow types (plus any ``style_a_*`` /
``style_b_*`` float columns on comparisons).
"""

from __future__ import annotations

import pyarrow as pa

WINNERS: tuple[str, ...] = ("model_a", "model_b", "tie", "tie_bothbad")
"""Allowed values of ``winner``. Chatbot Arena's ``tie (bothbad)`` is mapped to ``tie_bothbad``."""

STYLE_FEATURES: tuple[str, ...] = ("tokens", "headers", "lists", "bold")
"""Style features carried as ``style_a_<name>`` / ``style_b_<name>`` (LMArena's style control)."""

COMPARISON_FIELDS: tuple[pa.Field, ...] = (
    pa.field("prompt_id", pa.string(), nullable=False),
    pa.field("model_a", pa.string(), nullable=False),
    pa.field("model_b", pa.string(), nullable=False),
    pa.field("winner", pa.string(), nullable=False),
    pa.field("judge", pa.string()),
    pa.field("weight", pa.float64()),
    pa.field("category", pa.string()),
    pa.field("language", pa.string()),
    pa.field("turn", pa.int64()),
    pa.field("tstamp", pa.float64()),
    pa.field("aspect", pa.string()),
)
COMPARISONS_REQUIRED: tuple[str, ...] = ("prompt_id", "model_a", "model_b", "winner")

SCORE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("prompt_id", pa.string(), nullable=False),
    pa.field("model", pa.string(), nullable=False),
    pa.field("score", pa.float64(), nullable=False),
    pa.field("judge", pa.string()),
    pa.field("aspect", pa.string()),
)
SCORES_REQUIRED: tuple[str, ...] = ("prompt_id", "model", "score")

RANKING_FIELDS: tuple[pa.Field, ...] = (
    pa.field("prompt_id", pa.string(), nullable=False),
    # best first; each inner list is a group of tied models
    pa.field("models", pa.list_(pa.list_(pa.string())), nullable=False),
    pa.field("judge", pa.string()),
    pa.field("aspect", pa.string()),
)
RANKINGS_REQUIRED: tuple[str, ...] = ("prompt_id", "models")

RESPONSE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("prompt_id", pa.string(), nullable=False),
    pa.field("model", pa.string(), nullable=False),
    pa.field("text", pa.string()),
    pa.field("prompt", pa.string()),
    pa.field("image", pa.string()),  # a path or URL, for text-to-image arenas
    pa.field("category", pa.string()),
)
RESPONSES_REQUIRED: tuple[str, ...] = ("prompt_id", "model")

TABLES: dict[str, tuple[tuple[pa.Field, ...], tuple[str, ...]]] = {
    "comparisons": (COMPARISON_FIELDS, COMPARISONS_REQUIRED),
    "scores": (SCORE_FIELDS, SCORES_REQUIRED),
    "rankings": (RANKING_FIELDS, RANKINGS_REQUIRED),
    "responses": (RESPONSE_FIELDS, RESPONSES_REQUIRED),
}


def style_columns(names: list[str] | tuple[str, ...]) -> list[str]:
    """The style columns among ``names`` (``style_a_*`` and ``style_b_*``), in order."""
    return [n for n in names if n.startswith(("style_a_", "style_b_"))]


def schema_for(kind: str, present: list[str] | tuple[str, ...] | None = None) -> pa.Schema:
    """Arrow schema of ``kind``; with ``present``, only the fields in it (plus style columns)."""
    fields, _ = TABLES[kind]
    chosen = [f for f in fields if present is None or f.name in present]
    if kind == "comparisons" and present is not None:
        chosen += [pa.field(n, pa.float64()) for n in style_columns(present)]
    return pa.schema(chosen)


def conform(table: pa.Table, kind: str) -> pa.Table:
    """Cast ``table`` to the schema of ``kind``, keeping known and style columns in schema order.

    Unknown columns are dropped; callers that want them (adapters keeping ``extra`` data)
    must do so explicitly. Required columns must already exist.
    """
    fields, required = TABLES[kind]
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise KeyError(f"{kind} table lacks required columns {missing}")
    schema = schema_for(kind, table.column_names)
    arrays = [table.column(f.name).cast(f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)
