"""Schema, readers/writers, adapters and validation for the comparisons, scores, rankings and
responses tables.

Reading: :func:`read_comparisons` (``(table, rejects)``) and :func:`read_input` (a
:class:`ReadResult` with the responses table, the format used and the counts) run an adapter
and validation; :func:`adapt_table` does the same on an in-memory Arrow table. Files larger than
memory are checked with :func:`check_comparisons_file` and aggregated through DuckDB with
:func:`comparisons_relation` / :func:`scan_sql`, without materialising them.

Input formats (``source=`` / ``--from``; detected from the columns when absent):

==============  ==========================================================================
``native``      the comparisons table itself (``prompt_id`` optional)
``arena``       Chatbot Arena / FastChat battles; style counts from ``conv_metadata``
``columns``     any table through ``model_a/model_b/winner`` column names + ``winner_map``
``alpacaeval``  AlpacaEval annotations; exact ``preference`` kept as an extra column
``arena-hard``  Arena-Hard judgments (JSONL with ``games`` or one row per game); ``>>`` = 3
``pairs``       ``prompt/chosen/rejected``, hh-rlhf dialogues, chat-message lists
``judgebench``  JudgeBench pairs with objective ``A>B``/``B>A`` labels
``rankings``    K-wise rankings (best-first groups), broken into every implied pair
==============  ==========================================================================

Validation is strict by default (the first bad row raises
:class:`~preflab._errors.DataError` naming file, row, field and fix); ``strict=False`` returns
every bad row in ``rejects`` (``row, field, value, reason, fix, original``), and
``kept + rejected`` always equals the adapter's rows. Rows are 0-based data rows of the input.
Converters: :func:`swap_sides`, :func:`rankings_to_comparisons`,
:func:`scores_to_comparisons`, :func:`comparisons_to_rankings`.
"""

from __future__ import annotations

from preflab.data._adapters_base import AdapterOptions, parse_winner_map
from preflab.data._adapters_pairs import split_dialogue
from preflab.data._convert import (
    comparisons_to_rankings,
    rankings_to_comparisons,
    scores_to_comparisons,
    swap_sides,
)
from preflab.data._detect import FORMATS, detect_format
from preflab.data._io import comparisons_relation, file_format, read_table, scan_sql, write_table
from preflab.data._markdown import char_lengths, markdown_counts
from preflab.data._read import (
    ADAPTERS,
    ReadResult,
    adapt_table,
    make_options,
    read_comparisons,
    read_input,
)
from preflab.data._schema import (
    COMPARISONS_REQUIRED,
    STYLE_FEATURES,
    WINNERS,
    conform,
    schema_for,
    style_columns,
)
from preflab.data._stream import FileCheck, check_comparisons_file
from preflab.data._validate import REJECTS_SCHEMA

__all__ = [
    "ADAPTERS",
    "make_options",
    "COMPARISONS_REQUIRED",
    "FORMATS",
    "REJECTS_SCHEMA",
    "STYLE_FEATURES",
    "WINNERS",
    "AdapterOptions",
    "FileCheck",
    "ReadResult",
    "adapt_table",
    "char_lengths",
    "check_comparisons_file",
    "comparisons_relation",
    "comparisons_to_rankings",
    "conform",
    "detect_format",
    "file_format",
    "markdown_counts",
    "parse_winner_map",
    "rankings_to_comparisons",
    "read_comparisons",
    "read_input",
    "read_table",
    "scan_sql",
    "schema_for",
    "scores_to_comparisons",
    "split_dialogue",
    "style_columns",
    "swap_sides",
    "write_table",
]
