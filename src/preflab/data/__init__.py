"""Schema, readers/writers, adapters and validation for the comparisons, scores, rankings and
responses tables."""

from __future__ import annotations

from preflab.data._io import file_format, read_table, write_table
from preflab.data._read import read_comparisons
from preflab.data._schema import (
    COMPARISONS_REQUIRED,
    STYLE_FEATURES,
    WINNERS,
    conform,
    schema_for,
    style_columns,
)

__all__ = [
    "COMPARISONS_REQUIRED",
    "STYLE_FEATURES",
    "WINNERS",
    "conform",
    "file_format",
    "read_comparisons",
    "read_table",
    "schema_for",
    "style_columns",
    "write_table",
]
