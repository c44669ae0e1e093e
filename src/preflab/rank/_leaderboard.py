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


@dataclass(frozen=True, slots=True)
class Leaderboard:
    """One leaderboard: the ratings and the counts they were fitted on."""

    name: str
    ratings: Ratings
    counts: PairCounts | None


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
    progress: Callable[..., Any] | None = None,
) -> list[Leaderboard]:
    """Rank the models in a comparisons table; one board overall and one per ``by`` value.

    ``method="bt"`` fits Bradley–Terry (:func:`fit_bradley_terry`), with percentile bootstrap
    intervals when ``bootstrap > 0`` (:func:`bootstrap_intervals`); ``method="elo"`` runs
    online Elo (no intervals). Randomness comes only from ``rng``.
    """
    if method not in METHODS:
        raise ModelError(f"unknown method '{method}'; use one of {', '.join(METHODS)}")
    if isinstance(table, PairCounts):
        if method != "bt" or by is not None:
            raise ModelError("counts alone support only method='bt' without slices; pass the "
                             "comparisons table for Elo or --by")
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
        if bootstrap > 0:
            ratings = bootstrap_intervals(counts, n_rounds=bootstrap, rng=gen, ties=ties,
                                          anchor=anchor, scale=scale, prior=prior,
                                          resample=resample, progress=progress)
        else:
            ratings = fit_bradley_terry(counts, ties=ties, anchor=anchor, scale=scale,
                                        prior=prior)
        boards.append(Leaderboard(name, ratings, counts))
    return boards
