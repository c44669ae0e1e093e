"""Public names of the scale/robustness part of :mod:`preflab.rank` (re-exported there)."""

from __future__ import annotations

from preflab.rank._plackett_luce import fit_plackett_luce, rankings_to_comparisons
from preflab.rank._sandwich import BTCounts, bt_newton, sandwich_intervals, table_counts
from preflab.rank._style_control import StyleRatings, fit_style_control

__all__ = [
    "BTCounts",
    "StyleRatings",
    "bt_newton",
    "fit_plackett_luce",
    "fit_style_control",
    "rankings_to_comparisons",
    "sandwich_intervals",
    "table_counts",
]
