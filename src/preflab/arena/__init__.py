"""preflab.arena: a web arena for human preferences (blind pairwise and K-wise voting).

Quick start (the bundled LLMFAO sample, SQLite in the temp directory)::

    preflab arena serve --demo                      # http://127.0.0.1:8000/

Own content and database::

    preflab arena load responses.parquet --db sqlite:///arena.sqlite
    preflab arena serve --db sqlite:///arena.sqlite --workers 2 --admin-token $TOKEN
    preflab arena export -o votes.parquet --db sqlite:///arena.sqlite   # then: preflab rank

Live mode (voters type prompts; two OpenAI-compatible endpoints answer, both stream in)::

    preflab arena serve --live models.toml --db sqlite:///live.sqlite

Pages: ``/`` (vote; keys 1-4 or A/B/T/X, K-wise with ``--k 3|4``), ``/leaderboard`` (live
Bradley-Terry board with bootstrap intervals), ``/leaderboard.json``; admin
``/admin/load|export|reset`` with ``Authorization: Bearer <token>``.
Needs the ``arena`` extra: ``pip install 'preflab[arena]'``.
"""

from __future__ import annotations

try:
    from preflab.arena._app import app_from_env, create_app
    from preflab.arena._config import ArenaConfig
    from preflab.arena._live_config import (
        LiveConfig,
        LiveModel,
        LiveSettings,
        live_config_from_dict,
        load_live_config,
    )
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
    "LiveConfig",
    "LiveModel",
    "LiveSettings",
    "PairCounts",
    "Store",
    "app_from_env",
    "bt_newton",
    "choose_models",
    "comparisons_table",
    "create_app",
    "demo_responses",
    "fit_board",
    "live_config_from_dict",
    "load_file",
    "load_live_config",
    "pair_weights",
    "rankings_table",
    "response_rows",
]
