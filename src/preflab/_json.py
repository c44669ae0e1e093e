"""Small helpers for the JSON layouts of results."""

from __future__ import annotations


def json_number(v: float) -> float | None:
    """``v`` as a JSON number; NaN (not representable in JSON) becomes ``None`` (``null``)."""
    return None if v != v else float(v)
