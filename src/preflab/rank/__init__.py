"""Ratings from comparisons: Elo, Bradley–Terry (+ties, anchoring), bootstrap and sandwich
intervals, style control, Plackett–Luce, active sampling, robustness, incremental boards,
engines for large files, and benchmark scores (AlpacaEval win rates and LC, Arena-Hard)."""

from __future__ import annotations

from preflab.rank import _benchmark_api, _scale_api
from preflab.rank._benchmark_api import *  # noqa: F403
from preflab.rank._bootstrap import bootstrap_intervals, bootstrap_scores
from preflab.rank._bradley_terry import PairStats, bt_mle
from preflab.rank._counts import TIES, PairCounts, counts_from_arrays, native_counts, pair_counts
from preflab.rank._davidson import davidson_mle
from preflab.rank._elo import online_elo
from preflab.rank._fit import fit_bradley_terry
from preflab.rank._graph import check_identifiable
from preflab.rank._leaderboard import Leaderboard, leaderboard
from preflab.rank._ratings import SCALES, Ratings, elo_factor, rank_bounds, to_scale
from preflab.rank._scale_api import *  # noqa: F403

__all__ = [  # core names, then the two API modules
    "SCALES",
    "Leaderboard",
    "leaderboard",
    "native_counts",
    "TIES",
    "PairCounts",
    "PairStats",
    "Ratings",
    "bootstrap_intervals",
    "bootstrap_scores",
    "bt_mle",
    "check_identifiable",
    "counts_from_arrays",
    "davidson_mle",
    "elo_factor",
    "fit_bradley_terry",
    "online_elo",
    "pair_counts",
    "rank_bounds",
    "to_scale",
    *_benchmark_api.__all__,
    *_scale_api.__all__,
]
