"""``fit_bradley_terry``: a leaderboard from a comparisons table (or its counts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeAlias

import pyarrow as pa

from preflab.rank._bradley_terry import PairStats, fit_scores
from preflab.rank._counts import PairCounts, pair_counts
from preflab.rank._davidson import davidson_mle
from preflab.rank._graph import check_identifiable
from preflab.rank._ratings import FloatArray, Ratings, to_scale

Source: TypeAlias = pa.Table | str | Path | PairCounts


def as_counts(source: Source, ties: str = "half") -> PairCounts:
    """Counts from a table, a file path or counts (dropping ties when ``ties='drop'``)."""
    if isinstance(source, PairCounts):
        return source.drop_ties() if ties == "drop" else source
    return pair_counts(source, ties=ties)


def fit_counts(counts: PairCounts, *, ties: str = "half", prior: float = 0.0,
               init: FloatArray | None = None) -> tuple[FloatArray, dict[str, float]]:
    """Natural-log strengths (and extra parameters) for ``counts`` under the ties model."""
    if ties == "davidson":
        s, nu = davidson_mle(counts, prior=prior, init=init)
        return s, {"nu": nu}
    return fit_scores(PairStats.from_counts(counts), prior=prior, init=init), {}


def fit_bradley_terry(
    source: Source,
    *,
    ties: str = "half",
    anchor: tuple[str, float] | None = None,
    scale: str = "elo",
    prior: float = 0.0,
) -> Ratings:
    r"""Bradley–Terry ratings, fitted exactly on the sufficient statistics.

    Parameters
    ----------
    source : comparisons table, path of a comparisons file, or :class:`PairCounts`.
    ties : ``"half"`` (a tie is half a win each side, as Chatbot Arena), ``"drop"`` (ties
        ignored) or ``"davidson"`` (ties as a third outcome, [Dav70]_).
    anchor : ``(model, rating)``: shift the board so ``model`` has ``rating``; without it
        ratings are centred on 1000 (Elo scale) or 0 (logit scale).
    scale : ``"elo"`` (400·log10 odds) or ``"logit"`` (natural-log odds).
    prior : precision of a Gaussian prior on the scores; 0 is the plain MLE, which requires a
        connected comparison graph and no model with only wins or only losses (checked, with
        an error naming the models).

    Examples
    --------
    >>> ratings = fit_bradley_terry(table, ties="half", anchor=("gpt-4-0314", 1000))
    """
    counts = as_counts(source, ties)
    if prior == 0.0:
        check_identifiable(counts)
    scores, params = fit_counts(counts, ties=ties, prior=prior)
    n, win_rate = counts.per_model()
    method = {"half": "bradley_terry", "drop": "bradley_terry",
              "davidson": "bradley_terry_davidson"}[ties]
    info: dict[str, Any] = {"ties": ties, "prior": prior, **params}
    return Ratings(
        models=counts.models,
        rating=to_scale(scores, counts.models, scale=scale, anchor=anchor),
        method=method,
        scale=scale,
        anchor=anchor,
        n=n,
        win_rate=win_rate,
        n_comparisons=counts.n_rows,
        params=info,
    )
