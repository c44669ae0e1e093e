"""Public names of the scale/robustness part of :mod:`preflab.rank` (re-exported there)."""

from __future__ import annotations

from preflab.rank._active import STRATEGIES, next_pairs
from preflab.rank._engines import ENGINES, stream_counts, stream_style_control
from preflab.rank._incremental import Board
from preflab.rank._plackett_luce import fit_plackett_luce, rankings_to_comparisons
from preflab.rank._robustness import Fragility, Power, fragility, power, voter_influence
from preflab.rank._sandwich import BTCounts, bt_newton, sandwich_intervals, table_counts
from preflab.rank._style_control import StyleRatings, fit_style_control
from preflab.rank._style_features import add_style_columns

__all__ = [
    "BTCounts",
    "add_style_columns",
    "Board",
    "ENGINES",
    "Fragility",
    "Power",
    "STRATEGIES",
    "StyleRatings",
    "bt_newton",
    "fit_plackett_luce",
    "fit_style_control",
    "fragility",
    "next_pairs",
    "power",
    "rankings_to_comparisons",
    "sandwich_intervals",
    "stream_counts",
    "stream_style_control",
    "table_counts",
    "voter_influence",
]
