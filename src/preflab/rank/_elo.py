r"""Online (sequential) Elo, as Chatbot Arena's ``compute_elo``.

For each battle in order, with :math:`E_a = 1 / (1 + 10^{(R_b - R_a)/400})` and
:math:`S_a` = 1, 0 or 0.5 (either kind of tie): :math:`R_a \mathrel{+}= K (S_a - E_a)`,
:math:`R_b \mathrel{+}= K (1 - S_a - E_b)`. Defaults K = 4, scale 400, base 10, initial
rating 1000, as FastChat [Chiang24]_. Order-dependent by design; prefer Bradley–Terry for a
leaderboard, Elo for a running score.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from preflab.rank._ratings import Ratings


def online_elo(
    table: pa.Table,
    *,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    init: float = 1000.0,
    order_by: str | None = "tstamp",
) -> Ratings:
    """Sequential Elo ratings over ``table``'s rows (sorted by ``order_by`` when present)."""
    if order_by and order_by in table.column_names:
        table = table.take(pc.sort_indices(table, [(order_by, "ascending")]))
    a = table.column("model_a").to_pylist()
    b = table.column("model_b").to_pylist()
    w = table.column("winner").to_pylist()
    score = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie_bothbad": 0.5,
             "tie (bothbad)": 0.5}
    ratings: dict[str, float] = {}
    n: dict[str, float] = {}
    wins: dict[str, float] = {}
    for ma, mb, win in zip(a, b, w):
        ra = ratings.get(ma, init)
        rb = ratings.get(mb, init)
        ea = 1.0 / (1.0 + base ** ((rb - ra) / scale))
        eb = 1.0 / (1.0 + base ** ((ra - rb) / scale))
        sa = score[win]
        ratings[ma] = ra + k * (sa - ea)
        ratings[mb] = rb + k * (1.0 - sa - eb)
        n[ma] = n.get(ma, 0.0) + 1
        n[mb] = n.get(mb, 0.0) + 1
        wins[ma] = wins.get(ma, 0.0) + sa
        wins[mb] = wins.get(mb, 0.0) + 1 - sa
    models = tuple(sorted(ratings))
    return Ratings(
        models=models,
        rating=np.array([ratings[m] for m in models]),
        method="online_elo",
        scale="elo",
        n=np.array([n[m] for m in models]),
        win_rate=np.array([wins[m] / n[m] for m in models]),
        n_comparisons=len(a),
        params={"k": k, "scale": scale, "base": base, "init": init},
    )
