r"""Topic clusters of prompt embeddings, with a size floor and readable labels.

* ``kmeans``: scikit-learn k-means (k-means++ starts, ``n_init`` restarts, fixed seed) on the
  unit-length embeddings, so squared distances are :math:`2 - 2\cos`. Default
  :math:`k = \max(2, \mathrm{round}(\sqrt{n/2}))`, capped so that clusters can reach the floor.
* ``hdbscan``: scikit-learn HDBSCAN with ``min_cluster_size`` = the floor [Campello13]_, the
  density clustering BenchBuilder runs through BERTopic [Li24]_; it has no randomness.
  BERTopic first reduces the embeddings to a few dimensions with UMAP; we do not, and on
  100-dimensional TF-IDF/SVD embeddings of the Arena-Hard prompts HDBSCAN calls about half of
  them noise, so k-means is the default.

*Size floor*: a cluster smaller than ``min_cluster_size`` (and HDBSCAN's noise) is either
merged (``small="merge"``: each member moves to the nearest remaining centroid by cosine,
smallest cluster first, centroids recomputed) or dropped (``small="drop"``: label ``-1``).
Clusters are then numbered by size, largest first (ties: earliest member first).

*Labels*: each cluster's most representative prompts are its members closest (cosine) to the
centroid; its keywords are the top class-based TF-IDF terms [Grootendorst22]_,
:math:`\mathrm{tf}_{t,c}\,\log(1 + A / f_t)` with :math:`\mathrm{tf}_{t,c}` the term's share
of cluster *c*'s words, :math:`f_t` its count over all clusters and *A* the mean number of
words per cluster. Words are counted once per prompt (so a long prompt cannot dominate its
cluster's label) and must occur in at least two prompts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
METHODS = ("kmeans", "hdbscan")


@dataclass(frozen=True, slots=True)
class Clustering:
    """Cluster ``labels`` (``-1``: dropped by the size floor), per-cluster ``sizes``,
    unit ``centroids``, ``representatives`` (member indices, most central first),
    ``keywords`` and the one-line ``names`` built from them."""

    labels: IntArray
    sizes: IntArray
    centroids: FloatArray
    representatives: tuple[tuple[int, ...], ...]
    keywords: tuple[tuple[str, ...], ...]
    names: tuple[str, ...]
    method: str
    min_cluster_size: int
    n_merged: int
    n_dropped: int

    @property
    def n_clusters(self) -> int:
        """Number of clusters kept."""
        return len(self.sizes)


def _unit(x: FloatArray) -> FloatArray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    out: FloatArray = x / np.where(n > 0, n, 1.0)
    return out


def _centroids(emb: FloatArray, labels: IntArray, k: int) -> FloatArray:
    c = np.zeros((k, emb.shape[1]))
    np.add.at(c, labels[labels >= 0], emb[labels >= 0])
    return _unit(c)


def _apply_floor(emb: FloatArray, labels: IntArray, floor: int, small: str
                 ) -> tuple[IntArray, int, int]:
    """Merge or drop clusters below ``floor`` (noise ``-1`` counts as one small cluster)."""
    labels = labels.copy()
    n_merged = 0
    n_dropped = int((labels == -1).sum()) if small == "drop" else 0  # HDBSCAN's noise
    while True:
        ids, counts = np.unique(labels[labels >= 0], return_counts=True)
        big = ids[counts >= floor]
        small_ids = ids[counts < floor]
        noise = int((labels == -1).sum()) if small == "merge" else 0
        if (len(small_ids) == 0 and noise == 0) or len(big) == 0:
            break
        if small == "drop":
            mask = np.isin(labels, small_ids)
            n_dropped += int(mask.sum())
            labels[mask] = -1
            break
        # merge the smallest offender (noise first, then the smallest cluster)
        if noise:
            victim_id = -1
        else:
            small_counts = counts[counts < floor]
            victim_id = int(small_ids[np.lexsort((small_ids, small_counts))[0]])
        victim = labels == victim_id
        keep_ids = ids[ids != victim_id]
        cent = _unit(np.stack([emb[labels == c].sum(axis=0) for c in keep_ids]))
        labels[victim] = keep_ids[np.argmax(emb[victim] @ cent.T, axis=1)]
        n_merged += int(victim.sum())
    if (labels >= 0).any() and not (np.unique(labels[labels >= 0], return_counts=True)[1]
                                     >= floor).any():
        logger.warning("no cluster reaches the size floor %d; keeping them as they are", floor)
    return labels, n_merged, n_dropped


def _keywords(texts: list[str], labels: IntArray, k: int, n_words: int) -> list[tuple[str, ...]]:
    from sklearn.feature_extraction.text import CountVectorizer

    mask = labels >= 0
    docs = [t for t, m in zip(texts, mask, strict=True) if m]
    if not docs:
        return [() for _ in range(k)]
    try:
        vec = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_][\w+#]+\b",
                              lowercase=True, binary=True, min_df=min(2, len(docs)))
        x = vec.fit_transform(docs)
    except ValueError:  # only stop words
        return [() for _ in range(k)]
    ind = np.zeros((k, len(docs)))
    ind[labels[mask], np.arange(len(docs))] = 1.0
    tc = np.asarray((x.T @ ind.T).T, dtype=np.float64)  # (k, V) term counts per cluster
    words_per = tc.sum(axis=1, keepdims=True)
    tf = tc / np.where(words_per > 0, words_per, 1.0)
    f_t = tc.sum(axis=0)
    idf = np.log1p(words_per.mean() / np.where(f_t > 0, f_t, 1.0))
    score = tf * idf[None, :]
    vocab = vec.get_feature_names_out()
    out = []
    for c in range(k):
        top = np.lexsort((vocab, -score[c]))[:n_words]
        out.append(tuple(str(vocab[j]) for j in top if score[c, j] > 0))
    return out


def cluster_prompts(
    embeddings: npt.ArrayLike,
    texts: list[str] | tuple[str, ...],
    *,
    method: str = "kmeans",
    n_clusters: int | None = None,
    min_cluster_size: int = 5,
    small: str = "merge",
    n_init: int = 10,
    n_representatives: int = 3,
    n_keywords: int = 4,
    rng: int = 0,
) -> Clustering:
    """Cluster prompts into topics (see the module docstring).

    Parameters
    ----------
    embeddings:
        ``(n, d)`` prompt embeddings (normalised here).
    texts:
        The prompts, for the keywords.
    method:
        ``kmeans`` or ``hdbscan``.
    n_clusters:
        k of k-means (default :math:`\\sqrt{n/2}`); ignored by HDBSCAN.
    min_cluster_size:
        The size floor.
    small:
        ``merge`` small clusters into their nearest neighbour, or ``drop`` them.
    rng:
        Seed of k-means.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if small not in ("merge", "drop"):
        raise ValueError(f"small must be 'merge' or 'drop', not {small!r}")
    emb = _unit(np.asarray(embeddings, dtype=np.float64))
    n = len(emb)
    if n != len(texts):
        raise ValueError("embeddings and texts differ in length")
    floor = max(1, int(min_cluster_size))
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return Clustering(z, z, np.zeros((0, emb.shape[1] if emb.ndim == 2 else 0)), (), (), (),
                          method, floor, 0, 0)
    if method == "kmeans":
        from sklearn.cluster import KMeans

        k = n_clusters or max(2, round(np.sqrt(n / 2)))
        k = int(max(1, min(k, n // floor if n >= floor else 1, n)))
        km = KMeans(n_clusters=k, n_init=n_init, random_state=rng)
        raw = np.asarray(km.fit_predict(emb), dtype=np.int64)
    else:
        from sklearn.cluster import HDBSCAN

        hd = HDBSCAN(min_cluster_size=max(2, floor), copy=True)
        raw = np.asarray(hd.fit_predict(emb), dtype=np.int64)
    labels, n_merged, n_dropped = _apply_floor(emb, raw, floor, small)
    if not (labels >= 0).any():  # e.g. HDBSCAN found only noise and nothing to merge into
        logger.warning("no cluster was found; all %d prompts form one cluster", n)
        labels = np.zeros(n, dtype=np.int64)
        n_dropped = 0
    # renumber: largest first, ties by first member
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    first_pos = np.array([int(np.flatnonzero(labels == c)[0]) for c in ids])
    order = np.lexsort((first_pos, -counts))
    remap = np.full(int(labels.max()) + 2, -1, dtype=np.int64)
    remap[ids[order]] = np.arange(len(ids))
    labels = np.where(labels >= 0, remap[labels], -1).astype(np.int64)
    k = len(ids)
    sizes = np.bincount(labels[labels >= 0], minlength=k).astype(np.int64)
    cent = _centroids(emb, labels, k)
    reps = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        sim = emb[members] @ cent[c]
        reps.append(tuple(int(members[j]) for j in np.lexsort((members, -sim))[
            :n_representatives]))
    kw = _keywords(list(texts), labels, k, n_keywords)
    names = tuple(", ".join(w) if w else f"cluster {c}" for c, w in enumerate(kw))
    logger.info("%d clusters (%s), %d prompts merged, %d dropped", k, method, n_merged, n_dropped)
    return Clustering(labels, sizes, cent, tuple(reps), tuple(kw), names, method, floor,
                      n_merged, n_dropped)
