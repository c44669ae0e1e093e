"""Ratings from comparisons: Elo, Bradley–Terry (+ties, anchoring), bootstrap and sandwich
intervals, style control, Plackett–Luce, active sampling, robustness, incremental boards,
engines for large files, and benchmark scores (AlpacaEval win rates and LC, Arena-Hard)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from preflab.rank._bootstrap import bootstrap_intervals, bootstrap_scores
from preflab.rank._bradley_terry import PairStats, bt_mle
from preflab.rank._counts import TIES, PairCounts, counts_from_arrays, native_counts, pair_counts
from preflab.rank._davidson import davidson_mle
from preflab.rank._elo import online_elo
from preflab.rank._fit import fit_bradley_terry
from preflab.rank._graph import check_identifiable
from preflab.rank._leaderboard import Leaderboard, leaderboard
from preflab.rank._ratings import SCALES, Ratings, elo_factor, rank_bounds, to_scale

if TYPE_CHECKING:
    from preflab.rank._benchmark_api import *  # noqa: F403
    from preflab.rank._scale_api import *  # noqa: F403

# Names of the benchmark-score and scale modules are imported on first use (they pull in
# scipy.special and scipy.stats, slow to import); tests/test_public_api.py checks that
# these lists equal the modules' __all__.
_LAZY: dict[str, tuple[str, ...]] = {
    "preflab.rank._benchmark_api": (
        "AlpacaEvalAnnotations", "ArenaHardBattles", "ArenaHardBoard", "ArenaHardScore",
        "GamedRows", "LCFit", "ModelAnnotations", "ModelWinRate", "WinRateBoard",
        "WinRateStats", "arena_hard_scores", "estimate_difficulty", "fit_lc_glm",
        "is_extreme_change", "l1_soft_logistic", "lc_win_rate", "lc_win_rates",
        "lookup_difficulty",
        "read_alpacaeval_annotations", "read_arena_hard", "read_difficulty", "read_gamed",
        "style_matrix", "win_rate_board", "win_rate_stats",
    ),
    "preflab.rank._scale_api": (
        "BTCounts", "Board", "ENGINES", "Fragility", "Power", "STRATEGIES", "StyleRatings",
        "add_style_columns", "bt_newton", "fit_plackett_luce", "fit_style_control", "fragility",
        "next_pairs", "power", "rankings_to_comparisons", "sandwich_intervals",
        "stream_counts", "stream_style_control", "table_counts", "voter_influence",
    ),
}

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
    *(name for names in _LAZY.values() for name in names),
]


def __getattr__(name: str) -> Any:
    for module, names in _LAZY.items():
        if name in names:
            value = getattr(importlib.import_module(module), name)
            globals()[name] = value
            return value
    raise AttributeError(f"module 'preflab.rank' has no attribute {name!r}")
