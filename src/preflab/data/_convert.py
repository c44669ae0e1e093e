"""Converters between the comparisons, scores and rankings tables (DESIGN.md), in one place."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from preflab._errors import DataError
from preflab.data._io import arrow_table, quiet_connection
from preflab.data._schema import conform

FLIP = {"model_a": "model_b", "model_b": "model_a", "tie": "tie", "tie_bothbad": "tie_bothbad"}
"""How ``winner`` changes when the sides are swapped."""


def swap_sides(table: pa.Table) -> pa.Table:
    """The same comparisons with the sides swapped.

    ``model_a`` <-> ``model_b``, ``winner`` flipped (``model_a`` <-> ``model_b``, ties unchanged),
    every ``style_a_<f>`` <-> ``style_b_<f>``; AlpacaEval's extra ``preference`` column becomes
    ``3 - preference`` (legacy 0 stays 0). Other columns are unchanged, column order is kept.
    Any estimator that ignores position must give the same result on ``swap_sides(table)``.
    """
    names = table.column_names
    out = {}
    winner = table.column("winner")
    keys = pa.array(list(FLIP), pa.string())
    flipped = pc.take(pa.array(list(FLIP.values()), pa.string()),
                      pc.index_in(winner.cast(pa.string()), value_set=keys))
    for name in names:
        if name == "model_a":
            out[name] = table.column("model_b")
        elif name == "model_b":
            out[name] = table.column("model_a")
        elif name == "winner":
            out[name] = pc.coalesce(flipped, winner.cast(pa.string())).cast(winner.type)
        elif name.startswith("style_a_") and "style_b_" + name[8:] in names:
            out[name] = table.column("style_b_" + name[8:])
        elif name.startswith("style_b_") and "style_a_" + name[8:] in names:
            out[name] = table.column("style_a_" + name[8:])
        elif name == "preference":
            p = table.column(name)
            out[name] = pc.if_else(pc.equal(p, 0.0), p, pc.subtract(3.0, p))
        else:
            out[name] = table.column(name)
    return pa.table(out, schema=table.schema)


def _pair_rows(prompt_id: str, groups: list[list[str]], judge: str | None,
               aspect: str | None, rows: dict[str, list[object]]) -> None:
    flat = [(m, g) for g, group in enumerate(groups) for m in group]
    for (m1, g1), (m2, g2) in combinations(flat, 2):
        rows["prompt_id"].append(prompt_id)
        rows["model_a"].append(m1)
        rows["model_b"].append(m2)
        rows["winner"].append("tie" if g1 == g2 else "model_a")
        rows["judge"].append(judge)
        rows["aspect"].append(aspect)


def rankings_to_comparisons(rankings: pa.Table) -> pa.Table:
    """Every pair implied by K-wise rankings (``models``: best-first groups of tied models).

    For a ranking of K models this gives K(K-1)/2 comparisons: ``model_a`` is the one listed
    first, the winner is ``model_a`` when it is in an earlier group and ``tie`` within a group.
    ``prompt_id``, ``judge`` and ``aspect`` are carried. (A Plackett-Luce fit uses the rankings
    themselves; this "rank breaking" into pairs is the usual input to Bradley-Terry.)
    """
    names = rankings.column_names
    keys = ("prompt_id", "model_a", "model_b", "winner", "judge", "aspect")
    rows: dict[str, list[object]] = {k: [] for k in keys}
    judges = rankings.column("judge").to_pylist() if "judge" in names else [None] * len(rankings)
    aspects = rankings.column("aspect").to_pylist() if "aspect" in names else [None] * len(rankings)
    for i, (pid, groups) in enumerate(zip(rankings.column("prompt_id").to_pylist(),
                                          rankings.column("models").to_pylist(), strict=False)):
        seen = [m for g in groups or [] for m in g]
        if len(set(seen)) != len(seen):
            raise DataError(f"a model appears twice in the ranking {groups}", row=i,
                            field="models", fix="List every model once per ranking.")
        _pair_rows(str(pid), groups or [], judges[i], aspects[i], rows)
    table = pa.table(rows)
    return conform(table.drop([c for c in ("judge", "aspect") if c not in names]), "comparisons")


def scores_to_comparisons(scores: pa.Table) -> pa.Table:
    """Pairwise comparisons from pointwise scores: per prompt (and judge and aspect, when
    present), every pair of models, the higher score wins and equal scores tie.

    ``model_a`` is the first model in sorted order. A model scored twice for the same prompt,
    judge and aspect is an error (average the scores first).
    """
    keys = ["prompt_id"] + [c for c in ("judge", "aspect") if c in scores.column_names]
    s = conform(scores, "scores").select(keys + ["model", "score"])
    con = quiet_connection()
    con.register("s", s)
    dup = con.sql(f"SELECT {', '.join(keys)}, model, count(*) AS n FROM s "
                  f"GROUP BY ALL HAVING n > 1 LIMIT 1").fetchall()
    if dup:
        raise DataError(f"model '{dup[0][len(keys)]}' is scored more than once for prompt "
                        f"'{dup[0][0]}'", field="model",
                        fix="Keep one score per prompt, model, judge and aspect (e.g. average).")
    on = " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in keys)
    rel = con.sql(
        f"SELECT {', '.join('a.' + k for k in keys)}, a.model AS model_a, b.model AS model_b, "
        "CASE WHEN a.score > b.score THEN 'model_a' WHEN a.score < b.score THEN 'model_b' "
        "ELSE 'tie' END AS winner "
        f"FROM s a JOIN s b ON {on} AND a.model < b.model "
        f"WHERE a.score IS NOT NULL AND b.score IS NOT NULL "
        f"ORDER BY {', '.join('a.' + k for k in keys)}, a.model, b.model")
    return conform(arrow_table(rel), "comparisons")


def comparisons_to_rankings(table: pa.Table) -> pa.Table:
    """K=2 rankings from comparisons: ``[[winner], [loser]]``, or ``[[model_a, model_b]]`` for a
    tie (both kinds). ``prompt_id``, ``judge``, ``aspect`` are carried."""
    a = np.asarray(table.column("model_a").to_pylist(), dtype=object)
    b = np.asarray(table.column("model_b").to_pylist(), dtype=object)
    w = table.column("winner").to_pylist()
    models = [[[x], [y]] if v == "model_a" else [[y], [x]] if v == "model_b" else [[x, y]]
              for x, y, v in zip(a, b, w, strict=False)]
    cols: dict[str, pa.Array | pa.ChunkedArray] = {
        "prompt_id": table.column("prompt_id"),
        "models": pa.array(models, pa.list_(pa.list_(pa.string()))),
    }
    for name in ("judge", "aspect"):
        if name in table.column_names:
            cols[name] = table.column(name)
    return conform(pa.table(cols), "rankings")


