r"""Plackett–Luce ratings from K-wise votes (the rankings table), by MM or spectral iterations.

A vote ranks ``K`` models best first, possibly with tied groups. Under Plackett–Luce with
strengths ``γ_i = e^{s_i}`` a strict ranking ``i_1 ≻ i_2 ≻ … ≻ i_K`` has probability

.. math:: \prod_{r=1}^{K-1} \frac{γ_{i_r}}{\sum_{k \ge r} γ_{i_k}}

[Plackett75]_, [Luce59]_. A tied group ``G`` chosen from the remaining set ``R`` uses Breslow's
approximation ``∏_{i∈G} γ_i / (\sum_{k∈R} γ_k)^{|G|}`` [Breslow74]_: every member of the group
counts as chosen from the same set, so a K=2 tie counts as a win for each side, as choix's
pairwise convention. With no ties this is the exact Plackett–Luce likelihood, and a K=2
ranking is exactly one Bradley–Terry battle.

``method="mm"``: Hunter's minorise–maximise update ``γ_i ← W_i / \sum_t m_t w_t 1[i∈R_t] /
\sum_{k∈R_t} γ_k`` [Hunter04]_. ``method="spectral"``: iterative Luce spectral ranking (I-LSR),
the stationary distribution of a Markov chain whose fixed point is the MLE
[MaystreGrossglauser15]_. Both are iterated to ``tol`` in log-strength and agree with choix's
``mm_rankings`` / ``ilsr_rankings``. Intervals: bootstrap over votes (multinomial weights),
percentile, warm-started from the full fit.

:func:`rankings_to_comparisons` expands each vote into its ``K(K-1)/2`` implied pairs, as
K-Sort Arena describes turning one K-wise vote into pairwise comparisons [KSort24]_
(``weighting="pair"``: each implied pair counts 1; ``"vote"``: the pairs of a vote share weight 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from preflab._errors import DataError, ModelError
from preflab.rank._incremental import _one_thread
from preflab.rank._indexing import bincount
from preflab.rank._ratings import FloatArray, IntArray, Ratings, rank_from_ratings, to_scale


@dataclass(frozen=True, slots=True)
class RankingData:
    """Votes as stages. Stage ``t`` chooses group ``G_t`` (``m_t`` members) from risk set ``R_t``.

    ``member_stage``/``member_item`` list the risk sets, ``chosen_stage``/``chosen_item`` the
    groups, ``stage_vote`` the vote of each stage, ``weights`` one per vote.
    """

    models: tuple[str, ...]
    stage_vote: IntArray
    stage_size: FloatArray
    member_stage: IntArray
    member_item: IntArray
    chosen_stage: IntArray
    chosen_item: IntArray
    weights: FloatArray


def _ragged(starts: IntArray, lengths: IntArray) -> tuple[IntArray, IntArray]:
    """Concatenated ranges ``starts[g] + 0..lengths[g]-1`` and the ``g`` of each element."""
    owner = np.repeat(np.arange(len(starts)), lengths)
    offs = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return (starts[owner] + offs).astype(np.int64), owner.astype(np.int64)


def ranking_data(table: pa.Table) -> RankingData:
    """Flatten a rankings table (``models``: list of tie groups, best first) into stages."""
    if "models" not in table.column_names:
        raise DataError("rankings table lacks the 'models' column", field="models",
                        fix="Write each vote as a list of groups, best first: [[a], [b, c], [d]].")
    col = table.column("models").combine_chunks()
    if col.null_count:
        i = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError("empty ranking", row=i, field="models", fix="Remove the row.")
    n_votes = len(col)
    n_groups = pc.list_value_length(col).to_numpy(zero_copy_only=False).astype(np.int64)
    groups = col.flatten()
    gsize = pc.list_value_length(groups).to_numpy(zero_copy_only=False).astype(np.int64)
    items = groups.flatten().cast(pa.string())
    if items.null_count or np.any(gsize == 0):
        bad_group = int(np.flatnonzero(gsize == 0)[0]) if np.any(gsize == 0) else int(
            np.repeat(np.arange(len(gsize)), gsize)[np.flatnonzero(
                items.is_null().to_numpy(zero_copy_only=False))[0]])
        row = int(np.repeat(np.arange(n_votes), n_groups)[bad_group])
        raise DataError("empty group or missing model name", row=row, field="models",
                        fix="Every group must hold at least one model name.")
    models = tuple(sorted(str(x) for x in pc.unique(items).to_pylist()))
    item = pc.index_in(items, value_set=pa.array(models)).to_numpy(
        zero_copy_only=False).astype(np.int64)
    vote_of_group = np.repeat(np.arange(n_votes), n_groups)
    vote_of_item = np.repeat(vote_of_group, gsize)
    n = len(models)
    code = vote_of_item * n + item
    if len(np.unique(code)) != len(code):
        srt = np.sort(code)
        dup = srt[1:][srt[1:] == srt[:-1]][0]
        raise DataError(f"model '{models[dup % n]}' appears twice in one ranking",
                        row=int(dup // n), field="models", fix="List each model once per vote.")
    items_per_vote = np.bincount(vote_of_item, minlength=n_votes)
    vote_end = np.cumsum(items_per_vote)
    group_start = np.cumsum(gsize) - gsize
    risk_len = vote_end[vote_of_group] - group_start
    keep = ~((risk_len == 1) & (gsize == 1))  # the last singleton: probability 1, no information
    stages = np.flatnonzero(keep)
    mem_idx, mem_stage = _ragged(group_start[stages], risk_len[stages])
    ch_idx, ch_stage = _ragged(group_start[stages], gsize[stages])
    w = (table.column("weight").to_numpy(zero_copy_only=False).astype(np.float64)
         if "weight" in table.column_names else np.ones(n_votes))
    return RankingData(models, vote_of_group[stages].astype(np.int64),
                       gsize[stages].astype(np.float64), mem_stage, item[mem_idx], ch_stage,
                       item[ch_idx], w)


def _check(d: RankingData, vote_w: FloatArray) -> None:
    n = len(d.models)
    sw = vote_w[d.stage_vote]
    chosen = bincount(d.chosen_item, sw[d.chosen_stage], n)
    present = bincount(d.member_item, sw[d.member_stage], n)
    never = np.flatnonzero(chosen <= 0)
    always = np.flatnonzero(present - chosen <= 0)
    bad = never if never.size else always
    if bad.size:
        what = "is never chosen (always last)" if never.size else "is never beaten"
        raise ModelError(f"Plackett–Luce MLE diverges: model '{d.models[int(bad[0])]}' {what}; "
                         "add more votes or leave the model out")


def pl_mle(d: RankingData, *, method: str = "mm", weights: FloatArray | None = None,
           init: FloatArray | None = None, tol: float = 1e-10, max_iter: int = 100000
           ) -> FloatArray:
    """Centred log-strengths maximising the (Breslow) Plackett–Luce likelihood."""
    n = len(d.models)
    vw = d.weights if weights is None else weights
    sw = vw[d.stage_vote]
    wins = bincount(d.chosen_item, sw[d.chosen_stage], n)
    s = np.zeros(n) if init is None else np.asarray(init, np.float64) - np.mean(init)
    T = len(d.stage_vote)
    if method == "spectral":
        # pairs (member k -> chosen i) of each stage, k != i
        starts = np.searchsorted(d.member_stage, np.arange(T))
        lens = np.diff(np.append(starts, len(d.member_stage)))
        mem, owner = _ragged(starts[d.chosen_stage], lens[d.chosen_stage])
        to = d.chosen_item[owner]
        frm = d.member_item[mem]
        pair_stage = d.chosen_stage[owner]
        ok = frm != to
        frm, to, pair_stage = frm[ok], to[ok], pair_stage[ok]
        flat = frm * n + to
    elif method != "mm":
        raise ModelError(f"method='{method}': use 'mm' or 'spectral'")
    for _ in range(max_iter):
        g = np.exp(s - s.max())
        S = bincount(d.member_stage, g[d.member_item], T)
        if method == "mm":
            coef = d.stage_size * sw / S
            denom = bincount(d.member_item, coef[d.member_stage], n)
            new = np.log(wins) - np.log(denom)
        else:
            rate = bincount(flat, (sw / S)[pair_stage], n * n).reshape(n, n)
            q = rate - np.diag(rate.sum(axis=1))
            a = q.T.copy()
            a[-1] = 1.0
            rhs = np.zeros(n)
            rhs[-1] = 1.0
            with _one_thread():
                pi = np.linalg.solve(a, rhs)
            new = np.log(np.clip(pi, 1e-300, None))
        new -= new.mean()
        delta = float(np.max(np.abs(new - s)))
        s = new
        if delta < tol:
            break
    return s


def fit_plackett_luce(
    rankings_table: pa.Table, *, method: str = "mm", ties: str = "breslow",
    n_bootstrap: int = 0, rng: np.random.Generator | int | None = None,
    anchor: tuple[str, float] | None = None, scale: str = "elo", level: float = 0.95,
    progress: Callable[..., None] | None = None,
) -> Ratings:
    """Plackett–Luce ratings from a rankings table (module docstring).

    Parameters
    ----------
    rankings_table : column ``models`` (list of tie groups, best first); optional ``weight``.
    method : ``"mm"`` (Hunter's MM) or ``"spectral"`` (I-LSR); both reach the MLE.
    ties : ``"breslow"`` (the only tie model offered; exact when there are no ties).
    n_bootstrap, rng : percentile intervals from resampled votes (0: none).
    anchor, scale, level : as :func:`preflab.rank.fit_bradley_terry`.
    """
    if ties != "breslow":
        raise ModelError(f"ties='{ties}': Plackett–Luce here supports 'breslow' only")
    d = ranking_data(rankings_table)
    _check(d, d.weights)
    s = pl_mle(d, method=method)
    rating = to_scale(s, d.models, scale=scale, anchor=anchor)
    n = len(d.models)
    sw = d.weights[d.stage_vote]
    appear = bincount(d.member_item, sw[d.member_stage], n)
    r = Ratings(d.models, rating, method=f"plackett_luce-{method}", scale=scale, anchor=anchor,
                n=appear, n_comparisons=int(round(float(d.weights.sum()))),
                params={"ties": ties})
    if n_bootstrap > 0:
        gen = np.random.default_rng(rng)
        nv = len(d.weights)
        boot = np.empty((n_bootstrap, n))
        for b in range(n_bootstrap):
            w = d.weights * np.bincount(gen.integers(0, nv, nv), minlength=nv)
            boot[b] = pl_mle(d, method=method, weights=w, init=s, tol=1e-8)
            if progress is not None:
                progress(advance=1, total=n_bootstrap)
        scaled = to_scale(boot, d.models, scale=scale, anchor=anchor)
        q = [50 * (1 - level), 50 * (1 + level)]
        ranks = np.array([rank_from_ratings(row) for row in scaled])
        r = r.with_intervals(np.percentile(scaled, q, axis=0).T,
                             rank_ci=np.percentile(ranks, q, axis=0).T, method="bootstrap",
                             level=level)
    return r


def rankings_to_comparisons(rankings_table: pa.Table, *, weighting: str = "pair") -> pa.Table:
    """Expand each K-wise vote into its ``K(K-1)/2`` pairwise comparisons.

    Models in earlier groups beat those in later ones (``winner="model_a"``, the better model
    listed as ``model_a``); models in one group tie. ``weighting="pair"`` gives every implied
    pair weight 1 (K-Sort Arena's decomposition); ``"vote"`` gives each pair
    ``2 / (K(K-1))`` so a vote weighs 1 in total.
    """
    if weighting not in ("pair", "vote"):
        raise ModelError(f"weighting='{weighting}': use 'pair' or 'vote'")
    d = ranking_data(rankings_table)  # validates
    nv = len(d.weights)
    cols = rankings_table.column_names
    pid = (rankings_table.column("prompt_id").to_pylist() if "prompt_id" in cols
           else [str(i) for i in range(nv)])
    judge = (rankings_table.column("judge").to_pylist()
             if "judge" in rankings_table.column_names else [None] * len(d.weights))
    names = ("prompt_id", "model_a", "model_b", "winner", "judge", "weight")
    rows: dict[str, list[object]] = {k: [] for k in names}
    for v, groups in enumerate(rankings_table.column("models").to_pylist()):
        flat = [(g, m) for g, grp in enumerate(groups) for m in grp]
        k = len(flat)
        share = 1.0 if weighting == "pair" or k < 2 else 2.0 / (k * (k - 1))
        for x in range(k):
            for y in range(x + 1, k):
                rows["prompt_id"].append(pid[v])
                rows["model_a"].append(flat[x][1])
                rows["model_b"].append(flat[y][1])
                rows["winner"].append("tie" if flat[x][0] == flat[y][0] else "model_a")
                rows["judge"].append(judge[v])
                rows["weight"].append(share * float(d.weights[v]))
    return pa.table({k: pa.array(v, pa.float64() if k == "weight" else pa.string())
                     for k, v in rows.items()})
