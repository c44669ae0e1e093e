"""Reading comparisons from any supported file and format: adapters + validation in one call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from preflab._errors import DataError
from preflab.data._adapters_alpaca import alpacaeval, dedupe_responses
from preflab.data._adapters_arena import arena, columns, native
from preflab.data._adapters_arenahard import arena_hard
from preflab.data._adapters_base import ROW, AdapterOptions, Candidate, parse_winner_map
from preflab.data._adapters_kwise import rankings
from preflab.data._adapters_pairs import judgebench, pairs
from preflab.data._detect import FORMATS, detect_format
from preflab.data._io import read_table
from preflab.data._schema import conform
from preflab.data._validate import validate_candidate

ADAPTERS: dict[str, Callable[[pa.Table, str, AdapterOptions], Candidate]] = {
    "native": native, "arena": arena, "columns": columns, "alpacaeval": alpacaeval,
    "arena-hard": arena_hard, "pairs": pairs, "judgebench": judgebench, "rankings": rankings,
}


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What :func:`read_input` / :func:`adapt_table` return.

    Attributes
    ----------
    table:
        The valid comparisons (schema columns, plus an adapter's documented extras such as
        AlpacaEval's ``preference`` or Arena-Hard's ``game``/``label``).
    rejects:
        One row per rejected comparison: ``row, field, value, reason, fix, original``
        (empty in strict mode, which raises instead).
    responses:
        ``(prompt_id, model, text, prompt)`` when the input has texts, else ``None``.
    format:
        The format used; ``detected`` says whether it was guessed from the columns.
    n_input:
        Comparisons the adapter produced before validation; always
        ``table.num_rows + rejects.num_rows``.
    """

    table: pa.Table
    rejects: pa.Table
    responses: pa.Table | None
    format: str
    detected: bool
    n_input: int


def make_options(**options: Any) -> AdapterOptions:
    """:class:`AdapterOptions` from keyword arguments (``winner_map`` may be a string)."""
    if "winner_map" in options:
        options["winner_map"] = parse_winner_map(options["winner_map"])
    unknown = set(options) - set(AdapterOptions.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown adapter options {sorted(unknown)}")
    return AdapterOptions(**{k: v for k, v in options.items() if v is not None})


def adapt_table(
    raw: pa.Table, *, source: str | None = None, strict: bool = True, path: str = "<table>",
    **options: Any,
) -> ReadResult:
    """Run an adapter and validation on an in-memory table (see :func:`read_input`)."""
    opts = make_options(**options)
    detected = source is None
    fmt = source or detect_format(raw.column_names, path=path, column_map=opts.uses_column_map)
    if fmt not in ADAPTERS:
        raise DataError(f"unknown format '{fmt}'", path=path, field="--from",
                        fix="Use one of " + ", ".join(FORMATS) + ".")
    if fmt == "arena-hard" and {"model_a", "model_b", "winner"} <= set(raw.column_names):
        fmt = "arena"  # arena-hard's show_result.py battles table
    if fmt == "native" and opts.uses_column_map:
        fmt = "columns"
    if opts.uses_column_map and fmt not in ("columns", "arena"):
        raise DataError(
            f"--model-a/--model-b/--winner do not apply to the {fmt} format", path=path,
            field="--from", fix="Drop them, or use --from columns for a table with its own names.")
    cand = ADAPTERS[fmt](raw, path, opts)
    table, rejects = validate_candidate(cand, raw, path=path, strict=strict)
    responses = cand.responses
    if responses is not None:
        responses = conform(_keep_valid(responses, rejects), "responses")
    return ReadResult(table, rejects, responses, fmt, detected, cand.table.num_rows)


def _keep_valid(responses: pa.Table, rejects: pa.Table) -> pa.Table:
    """Responses of kept input rows only (a rejected row's texts are not exported), first row
    of each ``(prompt_id, model)``."""
    if ROW in responses.column_names:
        bad = pc.is_in(responses.column(ROW), value_set=rejects.column("row"))
        responses = responses.filter(pc.invert(bad))
    return dedupe_responses(responses)


def read_input(
    path: str | Path, *, source: str | None = None, strict: bool = True, **options: Any
) -> ReadResult:
    """Read any supported file in any supported format into a validated comparisons table.

    Parameters
    ----------
    path:
        Parquet, CSV/TSV, JSON (array of records) or JSONL (``.gz`` allowed for text formats).
    source:
        The input format, one of ``native, arena, columns, alpacaeval, arena-hard, pairs,
        judgebench, rankings``; ``None`` detects it from the columns (:func:`detect_format`).
    strict:
        ``True``: the first invalid row raises :class:`~preflab._errors.DataError` naming file,
        row (0-based), field and fix. ``False``: invalid rows go to ``rejects``.
    **options:
        Adapter options (:class:`AdapterOptions`): ``model_a, model_b, winner, winner_map,
        prompt_id, judge, judge_prefix, weight, id_column, baseline, strong_weight,
        chosen_model, rejected_model``.
    """
    raw = read_table(path)
    return adapt_table(raw, source=source, strict=strict, path=str(path), **options)


def read_comparisons(
    path: str | Path, *, source: str | None = None, strict: bool = True, **options: Any
) -> tuple[pa.Table, pa.Table]:
    """Read a comparisons table; returns ``(table, rejects)`` (see :func:`read_input`).

    ``rejects`` has columns ``row, field, value, reason, fix, original`` and is empty when all
    rows are valid (always, when ``strict``).
    """
    result = read_input(path, source=source, strict=strict, **options)
    return result.table, result.rejects




__all__ = ["ADAPTERS", "ReadResult", "adapt_table", "make_options", "read_comparisons",
           "read_input"]
