r"""Choosing the next battle: which models meet (a pure function, swappable later).

``uniform`` draws the models uniformly among those the voter can still be shown.

``active`` aims each vote where it most reduces ranking uncertainty.  For a pair (i, j) with
current win probability :math:`p_{ij} = \sigma(s_i - s_j)`, one more comparison adds
:math:`p_{ij}(1-p_{ij})` to the Fisher information of :math:`s_i - s_j`; the pair matters for
the *ranking* when the two intervals overlap.  The weight is

.. math:: w_{ij} = p_{ij}(1-p_{ij})\,\bigl(\sigma_i^2+\sigma_j^2\bigr)\,(1 + n_{ij})^{-d}
          \;\cdot\; \bigl(\epsilon_\text{ov} + \mathbb 1[|s_i-s_j| < z(\sigma_i+\sigma_j)]\bigr)

(information times current variance of the difference, favouring overlapping intervals; the
standard errors already shrink with games played, so the extra damping exponent ``d`` is 0 by
default: in simulation, damping by games made the ranking worse), and a pair is drawn with
probability proportional to :math:`w_{ij}` mixed with a uniform draw of weight ``explore`` so
every available pair keeps a chance.  This follows the spirit of Chatbot Arena's active
sampling [Chiang24]_ (sampling weight proportional to the reduction in interval width) in a
closed form that needs no refit.
For K > 2 the first pair is drawn as above, then models are added greedily by the summed
weight to the models already chosen, among models sharing a prompt with all of them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

Mode = Literal["uniform", "active"]
MODES: tuple[str, ...] = ("uniform", "active")


def pair_weights(scores: NDArray[np.float64], se: NDArray[np.float64],
                 games: NDArray[np.float64], *, z: float = 1.96, overlap_floor: float = 0.1,
                 damping: float = 0.0) -> NDArray[np.float64]:
    """The active-sampling weight :math:`w_{ij}` of every pair (symmetric, zero diagonal)."""
    diff = scores[:, None] - scores[None, :]
    p = 1.0 / (1.0 + np.exp(-diff))
    var = se[:, None] ** 2 + se[None, :] ** 2
    overlap = np.abs(diff) < z * (se[:, None] + se[None, :])
    w = p * (1.0 - p) * var * (overlap_floor + overlap)
    if damping:
        w = w / (1.0 + games) ** damping
    np.fill_diagonal(w, 0.0)
    return w


def choose_models(available: NDArray[np.bool_], *, k: int = 2, mode: str = "active",
                  scores: NDArray[np.float64] | None = None,
                  se: NDArray[np.float64] | None = None,
                  games: NDArray[np.float64] | None = None,
                  weights: NDArray[np.float64] | None = None,
                  together: NDArray[np.bool_] | None = None, explore: float = 0.2,
                  rng: np.random.Generator | int | None = None) -> tuple[int, ...] | None:
    """Pick ``k`` model indices for the next battle, or ``None`` when nothing is available.

    Parameters
    ----------
    available : (m, m) bool, pairs the voter may still be shown (symmetric).
    k : models per battle (2 for pairwise, 3 or 4 for K-wise).
    mode : ``"uniform"`` or ``"active"`` (see the module docstring).
    scores, se, games : current log-strengths, standard errors and (m, m) games per pair;
        needed for ``active``.
    weights : :func:`pair_weights` of ``scores, se, games`` when already computed (the
        server keeps them between refits).
    together : (m, m) bool, pairs that share at least one prompt with *some* further model;
        for K > 2 models are only added where all chosen models co-occur (defaults to
        ``available``).
    explore : weight of the uniform component in ``active`` mode.
    rng : random generator or seed.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    gen = np.random.default_rng(rng)
    m = available.shape[0]
    avail = np.triu(available, 1)
    idx_i, idx_j = np.nonzero(avail)
    if len(idx_i) == 0:
        return None
    uniform = np.full(len(idx_i), 1.0 / len(idx_i))
    if mode == "active" and scores is not None and se is not None and games is not None:
        w_full = pair_weights(scores, se, games) if weights is None else weights
        w = w_full[idx_i, idx_j]
        total = float(w.sum())
        prob = (1 - explore) * (w / total) + explore * uniform if total > 0 else uniform
    else:
        w_full = np.ones((m, m))
        prob = uniform
    pick = int(gen.choice(len(idx_i), p=prob / prob.sum()))
    chosen = [int(idx_i[pick]), int(idx_j[pick])]
    co = available if together is None else together
    while len(chosen) < k:
        ok = np.all(co[chosen, :], axis=0)
        ok[chosen] = False
        cand = np.nonzero(ok)[0]
        if len(cand) == 0:
            return None
        if mode == "active" and gen.random() >= explore:
            gain = w_full[np.ix_(cand, np.asarray(chosen))].sum(axis=1) + 1e-12
            nxt = int(cand[int(gen.choice(len(cand), p=gain / gain.sum()))])
        else:
            nxt = int(gen.choice(cand))
        chosen.append(nxt)
    order = gen.permutation(len(chosen))  # display order carries no information
    return tuple(chosen[i] for i in order)
