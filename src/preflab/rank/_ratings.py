"""The :class:`Ratings` result, rating scales and anchoring, and rank intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from preflab._errors import ModelError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SCALES = ("elo", "logit")
ELO_SCALE = 400.0
ELO_BASE = 10.0
ELO_INIT = 1000.0


def elo_factor(scale: str) -> float:
    """Multiplier from natural-log strengths to the reported scale.

    ``elo``: ``400 / ln 10`` (so a 400-point gap means 10:1 odds, as Elo and Chatbot Arena);
    ``logit``: 1.
    """
    if scale == "elo":
        return ELO_SCALE / math.log(ELO_BASE)
    if scale == "logit":
        return 1.0
    raise ModelError(f"unknown scale '{scale}'; use one of {', '.join(SCALES)}")


def to_scale(
    scores: FloatArray,
    models: tuple[str, ...],
    *,
    scale: str = "elo",
    anchor: tuple[str, float] | None = None,
) -> FloatArray:
    """Map natural-log strengths onto ``scale``.

    Without an anchor the ratings are centred on 1000 (``elo``) or 0 (``logit``), as FastChat
    does; with ``anchor=(model, value)`` every rating is shifted so that ``model`` has ``value``.
    The shape of the board is unchanged by either choice (a common shift).
    """
    f = elo_factor(scale)
    scores = np.asarray(scores, dtype=np.float64)
    centred = f * (scores - scores.mean(axis=-1, keepdims=True))
    out: FloatArray
    if anchor is None:
        out = centred + (ELO_INIT if scale == "elo" else 0.0)
        return out
    name, value = anchor
    if name not in models:
        close = [m for m in models if name.lower() in m.lower()][:5]
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ModelError(
            f"anchor model '{name}' is not among the {len(models)} models in the data.{hint}\n"
            "Pick a model that appears in the comparisons, e.g. --anchor MODEL=1000."
        )
    i = models.index(name)
    out = centred - centred[..., i : i + 1] + float(value)
    return out


def rank_from_ratings(rating: FloatArray) -> IntArray:
    """Competition rank: 1 + number of models with a strictly higher rating."""
    r = np.asarray(rating)
    out: IntArray = (1 + (r[None, :] > r[:, None]).sum(axis=1)).astype(np.int64)
    return out


def rank_bounds(ci: FloatArray) -> tuple[IntArray, IntArray]:
    """Rank interval implied by rating intervals.

    ``rank_ub`` (LMArena's "upper-bound rank", the best rank a model can claim) is
    1 + the number of models whose lower bound exceeds this model's upper bound;
    ``rank_worst`` is the number of models whose upper bound is not below this model's lower
    bound (``n`` minus the models that are clearly worse).
    """
    lo, hi = ci[:, 0], ci[:, 1]
    better = (lo[None, :] > hi[:, None]).sum(axis=1)
    worse = (hi[None, :] < lo[:, None]).sum(axis=1)
    n = len(lo)
    return (1 + better).astype(np.int64), (n - worse).astype(np.int64)


@dataclass(frozen=True, slots=True)
class Ratings:
    """A leaderboard: one rating per model, with optional intervals.

    Attributes
    ----------
    models : names, in the order of every array here.
    rating : point ratings on ``scale``.
    ci : shape (n_models, 2) percentile interval (low, high), or ``None``.
    n : comparisons each model took part in (weighted).
    win_rate : share of its comparisons each model won (ties count half).
    rank, rank_ub, rank_worst : point rank; best and worst rank the intervals allow
        (``rank_ub`` equals ``rank`` when there are no intervals).
    rank_ci : shape (n_models, 2) 95% interval of the model's rank over bootstrap replicates,
        or ``None``.
    params : extra fitted parameters (e.g. Davidson's tie parameter ``nu``).
    """

    models: tuple[str, ...]
    rating: FloatArray
    method: str
    scale: str
    anchor: tuple[str, float] | None = None
    ci: FloatArray | None = None
    n: FloatArray | None = None
    win_rate: FloatArray | None = None
    n_comparisons: int = 0
    rank_ci: FloatArray | None = None
    level: float = 0.95
    interval_method: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def rank(self) -> IntArray:
        return rank_from_ratings(self.rating)

    @property
    def rank_ub(self) -> IntArray:
        return self.rank if self.ci is None else rank_bounds(self.ci)[0]

    @property
    def rank_worst(self) -> IntArray:
        return self.rank if self.ci is None else rank_bounds(self.ci)[1]

    def order(self) -> IntArray:
        """Indices best first (ties in rating broken by name)."""
        return np.array(sorted(range(len(self.models)),
                               key=lambda i: (-self.rating[i], self.models[i])), dtype=np.int64)

    def with_intervals(self, ci: FloatArray, *, rank_ci: FloatArray | None = None,
                       method: str, level: float = 0.95) -> Ratings:
        return replace(self, ci=np.asarray(ci, dtype=np.float64), rank_ci=rank_ci,
                       interval_method=method, level=level)

    def __getitem__(self, model: str) -> float:
        return float(self.rating[self.models.index(model)])

    def as_dict(self) -> dict[str, float]:
        """``{model: rating}``."""
        return {m: float(r) for m, r in zip(self.models, self.rating)}

    def to_records(self) -> list[dict[str, Any]]:
        """One dict a model, best first, with the fields of the JSON output."""
        rank, rank_ub, rank_worst = self.rank, self.rank_ub, self.rank_worst
        out = []
        for i in self.order():
            rec: dict[str, Any] = {
                "model": self.models[i],
                "rating": float(self.rating[i]),
                "ci_low": None if self.ci is None else float(self.ci[i, 0]),
                "ci_high": None if self.ci is None else float(self.ci[i, 1]),
                "rank": int(rank[i]),
                "rank_ub": int(rank_ub[i]),
                "rank_worst": int(rank_worst[i]),
                "n": None if self.n is None else float(self.n[i]),
                "win_rate": None if self.win_rate is None else float(self.win_rate[i]),
            }
            if self.rank_ci is not None:
                rec["rank_ci_low"] = int(self.rank_ci[i, 0])
                rec["rank_ci_high"] = int(self.rank_ci[i, 1])
            out.append(rec)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``preflab rank --format json``."""
        return {
            "method": self.method,
            "scale": self.scale,
            "anchor": None if self.anchor is None else {"model": self.anchor[0],
                                                        "rating": self.anchor[1]},
            "intervals": self.interval_method,
            "level": self.level if self.ci is not None else None,
            "n_comparisons": self.n_comparisons,
            "params": {k: (float(v) if isinstance(v, (float, np.floating)) else v)
                       for k, v in self.params.items()},
            "models": self.to_records(),
        }
