"""Guess an input's format from its column names (when ``--from`` is not given)."""

from __future__ import annotations

from collections.abc import Sequence

from preflab._errors import DataError
from preflab.data._schema import COMPARISON_FIELDS, style_columns

FORMATS: tuple[str, ...] = ("native", "arena", "columns", "alpacaeval", "arena-hard", "pairs",
                            "judgebench", "rankings")
"""Input formats accepted by ``--from`` / ``source=``."""

_ARENA_ONLY = ("question_id", "conv_metadata", "sum_assistant_a_tokens", "header_count_a",
               "anony", "conversation_a")


def detect_format(columns: Sequence[str], *, path: str | None = None,
                  column_map: bool = False) -> str:
    """The format of a table with these columns; the rules, first match wins:

    1. ``column_map`` (``--model-a/--model-b/--winner`` given) -> ``columns``;
    2. ``generator_1, generator_2, preference`` -> ``alpacaeval``;
    3. ``question_id, model, games`` or ``question_id, model, game, label`` -> ``arena-hard``;
    4. ``response_A, response_B, label`` -> ``judgebench``;
    5. ``chosen, rejected`` -> ``pairs``;
    6. ``models`` (best-first lists) -> ``rankings``;
    7. ``model_a, model_b, winner``: ``native`` when every column is a comparisons-schema
       column, else ``arena`` (FastChat battles carry ``question_id``, ``conv_metadata``, ...).
    """
    cols = set(columns)
    if column_map:
        return "columns"
    if {"generator_1", "generator_2", "preference"} <= cols:
        return "alpacaeval"
    if ({"question_id", "model", "games"} <= cols
            or {"question_id", "model", "game", "label"} <= cols):
        return "arena-hard"
    if {"response_A", "response_B", "label"} <= cols:
        return "judgebench"
    if {"chosen", "rejected"} <= cols:
        return "pairs"
    if "models" in cols and not {"model_a", "model_b"} <= cols:
        return "rankings"
    if {"model_a", "model_b", "winner"} <= cols:
        schema = {f.name for f in COMPARISON_FIELDS} | set(style_columns(list(columns)))
        if cols <= schema and not cols & set(_ARENA_ONLY):
            return "native"
        return "arena"
    raise DataError(
        f"cannot detect the format from the columns {', '.join(columns) or '(none)'}",
        path=path,
        fix=("Pick one with --from (" + ", ".join(FORMATS) + "), or name your columns with "
             "--model-a COL --model-b COL --winner COL [--winner-map left=model_a,...]."),
    )
