"""preflab.arena: a web arena for human preferences (blind pairwise and K-wise voting).

Start one with ``preflab arena serve --demo``; see :func:`create_app` for the ASGI app.
Needs the ``arena`` extra: ``pip install 'preflab[arena]'``.
"""

from __future__ import annotations

try:
    from preflab.arena._app import app_from_env, create_app
    from preflab.arena._config import ArenaConfig
    from preflab.arena._matchmaking import choose_models, pair_weights
    from preflab.arena._rating import Board, PairCounts, bt_newton, fit_board
    from preflab.arena._store import BattleUsed, Store
    from preflab.arena._tables import (
        comparisons_table,
        demo_responses,
        load_file,
        rankings_table,
        response_rows,
    )
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(f"{exc}. The arena needs: pip install 'preflab[arena]'") from exc

__all__ = [
    "ArenaConfig",
    "BattleUsed",
    "Board",
    "PairCounts",
    "Store",
    "app_from_env",
    "bt_newton",
    "choose_models",
    "comparisons_table",
    "create_app",
    "demo_responses",
    "fit_board",
    "load_file",
    "pair_weights",
    "rankings_table",
    "response_rows",
]
