"""Public names of the benchmark-score modules (AlpacaEval win rates, LC, Arena-Hard).

The lead re-exports these from :mod:`preflab.rank`.
"""

from __future__ import annotations

from preflab.rank._alpacaeval_io import (
    AlpacaEvalAnnotations,
    ModelAnnotations,
    read_alpacaeval_annotations,
    read_difficulty,
    read_gamed,
)
from preflab.rank._arena_hard import (
    ArenaHardBattles,
    ArenaHardBoard,
    ArenaHardScore,
    arena_hard_scores,
    read_arena_hard,
    style_matrix,
)
from preflab.rank._length_controlled import (
    GamedRows,
    LCFit,
    estimate_difficulty,
    fit_lc_glm,
    is_extreme_change,
    l1_soft_logistic,
    lc_win_rate,
    lc_win_rates,
    lookup_difficulty,
)
from preflab.rank._winrate import (
    ModelWinRate,
    WinRateBoard,
    WinRateStats,
    win_rate_board,
    win_rate_stats,
)

__all__ = [
    "AlpacaEvalAnnotations",
    "ArenaHardBattles",
    "ArenaHardBoard",
    "ArenaHardScore",
    "GamedRows",
    "LCFit",
    "ModelAnnotations",
    "ModelWinRate",
    "WinRateBoard",
    "WinRateStats",
    "arena_hard_scores",
    "estimate_difficulty",
    "fit_lc_glm",
    "is_extreme_change",
    "l1_soft_logistic",
    "lc_win_rate",
    "lc_win_rates",
    "lookup_difficulty",
    "read_alpacaeval_annotations",
    "read_arena_hard",
    "read_difficulty",
    "read_gamed",
    "style_matrix",
    "win_rate_board",
    "win_rate_stats",
]
