r"""Robustness and planning for Bradley–Terry boards: fragility, voter influence, power.

All three use the same model as the board: scores ``ŝ`` maximising the BT log-likelihood on
counts, information ``H = X^T diag(w p (1-p)) X`` and, for a battle in cell ``k`` (pair
``(a_k, b_k)``, outcome ``y_k``, unit weight ``u_k``), its score ``g_k = u_k (y_k - p_k) x_k``.

**Fragility** (:func:`fragility`): the smallest number of votes whose removal reverses the
order of two models (or dethrones the leader). Removing one battle of cell ``k`` moves the
gap ``d = ŝ_A - ŝ_B`` by ``≈ -(e_A - e_B)^T H^+ g_k`` (the influence function / one Newton
step, [Broderick20]_ "Approximate Maximum Influence Perturbation"). Greedily remove battles
from the cells with the largest per-battle effect, refit exactly (warm-started Newton) after
each round, and stop when the refit confirms the flip: the returned set is verified, and its
size is an upper bound on the minimum (greedy).

**Leave-one-voter-out** (:func:`voter_influence`): the one-step change of every rating when
all votes of one judge are removed, ``Δŝ ≈ -H^+ u_c`` with ``u_c`` the judge's summed scores;
the most influential judges are then refitted exactly.

**Power** (:func:`power`): how many more votes separate A and B at a given level. With
current gap ``d`` and variance ``σ² = x^T H^+ x``, ``N`` new A-vs-B votes give variance
``σ² / (1 + N p(1-p) σ²)`` (Sherman–Morrison), so separation with probability ``power`` needs
``|d| ≥ (z_{1-α/2} + z_{power}) σ_N`` [Chow08]_; ``design="proportional"`` instead adds votes
in the board's current mix (variance ``σ² n/(n+N)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import sparse
from scipy.special import expit

from preflab._errors import DataError, ModelError
from preflab.rank._indexing import laplacian
from preflab.rank._ratings import FloatArray, elo_factor
from preflab.rank._sandwich import BTCounts, bt_newton, table_counts

_Z = NormalDist()  # standard normal quantiles without importing scipy.stats



def _counts(source: Any, ties: str = "half") -> BTCounts:
    if isinstance(source, BTCounts):
        return source
    if isinstance(source, pa.Table):
        return table_counts(source, ties=ties)
    return BTCounts(tuple(source.models), np.asarray(source.matchups, np.int64),
                    np.asarray(source.outcomes, np.float64), np.asarray(source.weights, np.float64))


def _hplus(s: FloatArray, c: BTCounts, w: FloatArray) -> FloatArray:
    n = len(c.models)
    p = expit(s[c.matchups[:, 0]] - s[c.matchups[:, 1]])
    h = laplacian(c.matchups, w * p * (1 - p), n)
    j = np.full((n, n), 1.0 / n)
    out: FloatArray = np.linalg.inv(h + j) - j
    return out


@dataclass(frozen=True, slots=True)
class Fragility:
    """Votes whose removal reverses ``model_a`` ahead of ``model_b`` (verified by refit).

    ``removed`` lists ``(model_a, model_b, winner, n_votes)`` per count cell (battles in a
    cell are interchangeable); ``n_removed`` their total, ``share`` of all votes;
    ``gap_before``/``gap_after`` are rating gaps on the Elo scale.
    """

    model_a: str
    model_b: str
    n_removed: int
    share: float
    removed: tuple[tuple[str, str, str, int], ...]
    gap_before: float
    gap_after: float
    verified: bool


def _flip_pair(c: BTCounts, s0: FloatArray, ia: int, ib: int, max_share: float
               ) -> tuple[FloatArray, FloatArray, bool]:
    """Greedy removal until ``s_a < s_b``; returns the removed counts per cell and the flag."""
    n = len(c.models)
    w = c.weights.copy()
    rows = np.maximum(np.rint(w), 0)  # integral votes per cell (unit weights assumed 1)
    unit = np.divide(c.weights, np.maximum(rows, 1), out=np.ones_like(w), where=rows > 0)
    removed = np.zeros_like(w)
    s = s0.copy()
    budget = max_share * rows.sum()
    for _ in range(200):
        gap = s[ia] - s[ib]
        if gap < 0:
            return removed, s, True
        if removed.sum() >= budget:
            break
        hp = _hplus(s, c, w)
        u = hp[ia] - hp[ib]
        a, b = c.matchups[:, 0], c.matchups[:, 1]
        p = expit(s[a] - s[b])
        # removing one battle of cell k changes the gap by -(u_a - u_b)(y - p) unit * (-1)
        effect = (u[a] - u[b]) * (c.outcomes - p) * unit  # gap drop per removed battle
        avail = rows - removed
        effect = np.where(avail > 0, effect, -np.inf)
        k = int(np.argmax(effect))
        if not np.isfinite(effect[k]) or effect[k] <= 0:
            break
        need = math.ceil(0.5 * gap / effect[k]) + 1  # half the linear prediction, then refit
        take = float(min(avail[k], max(1, need)))
        removed[k] += take
        w[k] -= take * unit[k]
        keep = w > 1e-12
        s = bt_newton(c.matchups[keep], c.outcomes[keep], w[keep], n, init=s, prior=1e-9)
    return removed, s, bool(s[ia] - s[ib] < 0)


def fragility(source: Any, model_a: str | None = None, model_b: str | None = None, *,
              ties: str = "half", max_share: float = 0.5, challengers: int = 5) -> Fragility:
    """Fewest votes whose removal puts ``model_b`` ahead of ``model_a`` (module docstring).

    Without models: the leader against its ``challengers`` nearest rivals, and the smallest
    set over them (the top rank changes). ``max_share`` caps the search (share of votes).
    """
    c = _counts(source, ties)
    n = len(c.models)
    s0 = bt_newton(c.matchups, c.outcomes, c.weights, n, prior=1e-9)
    if model_a is None:
        top = int(np.argmax(s0))
        rivals = [int(i) for i in np.argsort(-s0) if i != top][:challengers]
        pairs = [(top, j) for j in rivals]
    else:
        for name in (model_a, model_b):
            if name not in c.models:
                raise DataError(f"model '{name}' is not in the data", field="model",
                                fix=f"Pick one of {', '.join(c.models[:8])} ...")
        ia, ib = c.models.index(model_a), c.models.index(str(model_b))
        if s0[ia] < s0[ib]:
            ia, ib = ib, ia  # explain the current order
        pairs = [(ia, ib)]
    best: Fragility | None = None
    f = elo_factor("elo")
    for ia, ib in pairs:
        removed, s, ok = _flip_pair(c, s0, ia, ib, max_share)
        tot = int(removed.sum())
        lab = {1.0: "model_a", 0.0: "model_b", 0.5: "tie"}
        cells = tuple((c.models[int(c.matchups[k, 0])], c.models[int(c.matchups[k, 1])],
                       lab[float(c.outcomes[k])], int(removed[k]))
                      for k in np.flatnonzero(removed))
        res = Fragility(c.models[ia], c.models[ib], tot, tot / float(np.rint(c.weights).sum()),
                        cells, f * float(s0[ia] - s0[ib]), f * float(s[ia] - s[ib]), ok)
        if best is None or (res.verified and (not best.verified or tot < best.n_removed)):
            best = res
    assert best is not None
    return best


def voter_influence(table: pa.Table, *, by: str = "judge", ties: str = "half",
                    verify: int = 10) -> pa.Table:
    """Leave-one-voter-out influence on every rating (Elo points), one row per voter.

    Columns: ``voter, n_votes, max_shift`` (largest |Δ rating| over models, one-step
    approximation), ``top_shift`` (Δ of the current leader), ``exact_max_shift`` (exact
    refit without the voter, for the ``verify`` most influential voters; null otherwise).
    Sorted by ``max_shift``, largest first.
    """
    c = table_counts(table, ties=ties, cluster=by)
    assert c.cluster is not None
    n = len(c.models)
    s = bt_newton(c.matchups, c.outcomes, c.weights, n)
    hp = _hplus(s, c, c.weights)
    a, b = c.matchups[:, 0], c.matchups[:, 1]
    r = c.weights * (c.outcomes - expit(s[a] - s[b]))
    g = int(c.cluster.max()) + 1
    u = sparse.csr_matrix((np.concatenate([r, -r]), (np.concatenate([c.cluster, c.cluster]),
                                                     np.concatenate([a, b]))), shape=(g, n))
    f = elo_factor("elo")
    delta = -f * np.asarray(u @ hp)  # removing a voter subtracts its score: Δs = -H^+ u_c
    delta -= delta.mean(axis=1, keepdims=True)
    max_shift = np.abs(delta).max(axis=1)
    top = int(np.argmax(s))
    votes = np.bincount(c.cluster, c.weights, g)
    names = table.column(by).cast(pa.string()).combine_chunks().dictionary_encode().dictionary
    order = np.argsort(-max_shift)
    exact = np.full(g, np.nan)
    for v in order[:verify]:
        keep = c.cluster != v
        try:
            s2 = bt_newton(c.matchups[keep], c.outcomes[keep], c.weights[keep], n, init=s)
        except ModelError:
            continue
        exact[v] = f * float(np.abs((s2 - s2.mean()) - (s - s.mean())).max())
    return pa.table({
        "voter": pa.array([names[int(i)].as_py() for i in order], pa.string()),
        "n_votes": votes[order],
        "max_shift": max_shift[order],
        "top_shift": delta[order, top],
        "exact_max_shift": pa.array([None if np.isnan(x) else float(x) for x in exact[order]],
                                    pa.float64()),
    })


@dataclass(frozen=True, slots=True)
class Power:
    """Votes needed to separate two models: ``votes_needed`` more (``inf`` if the gap is 0)."""

    model_a: str
    model_b: str
    gap: float
    se: float
    z: float
    votes_needed: float
    design: str
    level: float
    power: float


def power(source: Any, model_a: str, model_b: str, *, level: float = 0.95,
          power: float = 0.8, design: str = "direct", ties: str = "half") -> Power:
    """How many more votes until A and B are separated at ``level`` (module docstring).

    ``design="direct"``: new votes are A-vs-B battles; ``"proportional"``: new votes follow
    the board's current mix of pairs. Assumes the current gap is the true one. ``gap`` and
    ``se`` are on the Elo scale.
    """
    c = _counts(source, ties)
    for name in (model_a, model_b):
        if name not in c.models:
            raise DataError(f"model '{name}' is not in the data", field="model",
                            fix=f"Pick one of {', '.join(c.models[:8])} ...")
    if design not in ("direct", "proportional"):
        raise ModelError(f"design='{design}': use 'direct' or 'proportional'")
    n = len(c.models)
    s = bt_newton(c.matchups, c.outcomes, c.weights, n)
    ia, ib = c.models.index(model_a), c.models.index(model_b)
    hp = _hplus(s, c, c.weights)
    var = float(hp[ia, ia] + hp[ib, ib] - 2 * hp[ia, ib])
    d = float(s[ia] - s[ib])
    zneed = float(_Z.inv_cdf(0.5 + level / 2) + _Z.inv_cdf(power))
    if d == 0:
        need = math.inf
    else:
        target = (abs(d) / zneed) ** 2  # variance that separates with the asked power
        if var <= target:
            need = 0.0
        elif design == "direct":
            p = float(expit(d))
            need = math.ceil((1 / target - 1 / var) / (p * (1 - p)))
        else:
            total = float(c.weights.sum())
            need = math.ceil(total * (var / target - 1))
    f = elo_factor("elo")
    return Power(model_a, model_b, f * d, f * math.sqrt(var), d / math.sqrt(var), need, design,
                 level, power)
