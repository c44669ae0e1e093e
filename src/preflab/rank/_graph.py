"""Checks that a Bradley–Terry maximum-likelihood estimate exists and is unique.

The MLE exists (finite) iff, for every split of the models into two groups, each group has
won (or tied) at least once against the other; equivalently the directed "i won or tied
against j" graph is strongly connected [Zer29]_, [For57]_. It is unique up to a common shift
iff the undirected comparison graph is connected.
"""

from __future__ import annotations

import numpy as np

from preflab._errors import ModelError
from preflab.rank._counts import PairCounts

_DENSE_CHECK = 4000  # models; up to here the all-good case is checked without SciPy


def _edges(counts: PairCounts, directed: bool) -> tuple[np.ndarray, np.ndarray]:
    a, b = counts.matchups[:, 0], counts.matchups[:, 1]
    w = counts.weights > 0
    if directed:
        # edge i -> j when i won or tied against j
        o = counts.outcomes
        return (np.concatenate([a[w & (o > 0)], b[w & (o < 1)]]),
                np.concatenate([b[w & (o > 0)], a[w & (o < 1)]]))
    return a[w], b[w]


def _reaches_all(adj: np.ndarray) -> bool:
    """Whether breadth-first search from node 0 over the boolean adjacency reaches every node."""
    reached = np.zeros(len(adj), bool)
    reached[0] = True
    frontier = np.array([0])
    while frontier.size:
        new = adj[frontier].any(axis=0) & ~reached
        reached |= new
        frontier = np.flatnonzero(new)
    return bool(reached.all())


def _one_component(counts: PairCounts, directed: bool) -> bool | None:
    """Whether the graph is (strongly) connected, by two searches on a dense adjacency;
    ``None`` for boards too large for it (SciPy's sparse routine decides then)."""
    m = counts.n_models
    if m > _DENSE_CHECK:
        return None
    src, dst = _edges(counts, directed)
    adj = np.zeros((m, m), bool)
    adj[src, dst] = True
    if not directed:
        adj |= adj.T
        return _reaches_all(adj)
    return _reaches_all(adj) and _reaches_all(adj.T)


def _components(counts: PairCounts, directed: bool) -> tuple[int, np.ndarray]:
    if _one_component(counts, directed):
        return 1, np.zeros(counts.n_models, np.int64)
    from scipy.sparse import coo_matrix  # imported here: slow to import (0.15 s)
    from scipy.sparse.csgraph import connected_components

    m = counts.n_models
    src, dst = _edges(counts, directed)
    g = coo_matrix((np.ones(len(src)), (src, dst)), shape=(m, m)).tocsr()
    n, labels = connected_components(g, directed=directed, connection="strong")
    return int(n), labels


def _describe(models: tuple[str, ...], labels: np.ndarray, n: int, limit: int = 6) -> str:
    parts = []
    groups = sorted((np.flatnonzero(labels == c) for c in range(n)), key=len, reverse=True)
    for idx in groups[:limit]:
        names = [models[i] for i in idx[:5]]
        more = f" and {len(idx) - 5} more" if len(idx) > 5 else ""
        parts.append("{" + ", ".join(names) + more + "}")
    if n > limit:
        parts.append(f"... {n - limit} more")
    return "; ".join(parts)


def check_identifiable(counts: PairCounts) -> None:
    """Raise :class:`ModelError` when the plain (unregularised) MLE is not finite and unique.

    The message names the disconnected components, or the models whose rating would go to
    plus or minus infinity (only wins / only losses against the rest), and how to proceed.
    """
    if counts.n_models < 2:
        raise ModelError("need comparisons between at least two models to rank them")
    n, labels = _components(counts, directed=False)
    if n > 1:
        raise ModelError(
            f"the comparison graph is disconnected: {n} groups of models were never compared "
            f"with each other: {_describe(counts.models, labels, n)}.\n"
            "Ratings across groups are not comparable. Rank each group separately, add "
            "comparisons that link them, or regularise with --prior (e.g. --prior 1.0)."
        )
    n, labels = _components(counts, directed=True)
    if n > 1:
        m = counts.n_models
        won = np.zeros(m, bool)
        lost = np.zeros(m, bool)
        a, b, o = counts.matchups[:, 0], counts.matchups[:, 1], counts.outcomes
        for side, score in ((a, o), (b, 1 - o)):
            won[side[score > 0]] = True
            lost[side[score < 1]] = True
        only_wins = [counts.models[i] for i in np.flatnonzero(won & ~lost)]
        only_losses = [counts.models[i] for i in np.flatnonzero(lost & ~won)]
        detail = []
        if only_wins:
            detail.append("only wins: " + ", ".join(only_wins[:8]))
        if only_losses:
            detail.append("only losses: " + ", ".join(only_losses[:8]))
        if not detail:
            detail.append("groups that never lost (or never won) against the rest: "
                          + _describe(counts.models, labels, n))
        raise ModelError(
            "the maximum-likelihood ratings are infinite (" + "; ".join(detail) + ").\n"
            "A model that never lost (or never won) has no finite Bradley-Terry rating. "
            "Add comparisons, or regularise with --prior (e.g. --prior 1.0)."
        )
