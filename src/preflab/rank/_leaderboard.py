"""``leaderboard``: the verb behind ``preflab rank`` — fit, intervals, per-slice boards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from preflab._errors import ModelError
from preflab.rank._bootstrap import bootstrap_intervals
from preflab.rank._counts import PairCounts, pair_counts
from preflab.rank._elo import online_elo
from preflab.rank._fit import fit_bradley_terry
from preflab.rank._ratings import Ratings

METHODS = ("bt", "elo")
INTERVALS = ("bootstrap", "sandwich")


@dataclass(frozen=True, slots=True)
class Leaderboard:
    """One leaderboard: the ratings, the counts they were fitted on, and (with style control)
    the style coefficients (:class:`preflab.rank.StyleRatings`)."""

    name: str
    ratings: Ratings
    counts: PairCounts | None
    style: Any = None


def leaderboard(
    table: pa.Table | PairCounts,
    *,
    method: str = "bt",
    ties: str = "half",
    anchor: tuple[str, float] | None = None,
    scale: str = "elo",
    prior: float = 0.0,
    bootstrap: int = 0,
    rng: np.random.Generator | int | None = None,
    resample: str = "multinomial",
    by: str | None = None,
    intervals: str = "bootstrap",
    cluster: str | None = None,
    style_control: bool = False,
    features: tuple[str, ...] = ("tokens", "headers", "lists", "bold"),
    progress: Callable[..., Any] | None = None,
) -> list[Leaderboard]:
    """Rank the models in a comparisons table; one board overall and one per ``by`` value.

    ``method="bt"`` fits Bradley–Terry (:func:`fit_bradley_terry`) with intervals from
    ``intervals``: ``"bootstrap"`` (percentile, :func:`bootstrap_intervals`, when
    ``bootstrap > 0``) or ``"sandwich"`` (robust Wald intervals, clustered by ``cluster``,
    :func:`sandwich_intervals`). ``style_control=True`` adds LMArena's style-controlled board
    (:func:`fit_style_control`) before each plain board. ``method="elo"`` runs online Elo (no
    intervals). Randomness comes only from ``rng``.
    """
    if method not in METHODS:
        raise ModelError(f"unknown method '{method}'; use one of {', '.join(METHODS)}")
    if intervals not in INTERVALS:
        raise ModelError(f"unknown intervals '{intervals}'; use one of {', '.join(INTERVALS)}")
    if isinstance(table, PairCounts):
        if method != "bt" or by is not None or style_control or cluster is not None:
            raise ModelError("counts alone support only Bradley-Terry without slices, style "
                             "control or clusters; pass the comparisons table")
    slices: list[tuple[str, pa.Table | PairCounts]] = [("overall", table)]
    if by is not None and isinstance(table, pa.Table):
        if by not in table.column_names:
            raise ModelError(f"--by {by}: no such column; columns are "
                             f"{', '.join(table.column_names)}")
        values = [v for v in pc.unique(table.column(by)).to_pylist() if v is not None]
        for v in sorted(values, key=str):
            slices.append((f"{by} = {v}", table.filter(pc.equal(table.column(by), v))))
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    boards = []
    for name, part in slices:
        if method == "elo":
            assert isinstance(part, pa.Table)
            boards.append(Leaderboard(name, online_elo(part), pair_counts(part)))
            continue
        counts = part if isinstance(part, PairCounts) else pair_counts(part, ties=ties)
        if ties == "drop":
            counts = counts.drop_ties()
        if style_control:
            assert isinstance(part, pa.Table)
            from preflab.rank._style_control import fit_style_control

            sr = fit_style_control(part, features=features, anchor=anchor, scale=scale,
                                   n_bootstrap=bootstrap if intervals == "bootstrap" else 0,
                                   rng=gen, intervals=intervals, cluster=cluster, ties=ties,
                                   progress=progress)
            boards.append(Leaderboard(f"{name} (style-controlled)", sr.ratings, counts, sr))
        if intervals == "sandwich":
            from preflab.rank._sandwich import sandwich_intervals

            src: pa.Table | PairCounts = part if cluster is not None else counts
            ratings = sandwich_intervals(src, cluster=cluster, anchor=anchor, scale=scale,
                                         ties=ties, prior=prior)
        elif bootstrap > 0:
            ratings = bootstrap_intervals(counts, n_rounds=bootstrap, rng=gen, ties=ties,
                                          anchor=anchor, scale=scale, prior=prior,
                                          resample=resample, progress=progress)
        else:
            ratings = fit_bradley_terry(counts, ties=ties, anchor=anchor, scale=scale,
                                        prior=prior)
        boards.append(Leaderboard(name, ratings, counts))
    return boards
