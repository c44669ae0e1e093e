r"""Deduplication of prompts: exact (after normalisation) and near-duplicate (MinHash + LSH).

*Normalisation*: Unicode NFKC, case folding, whitespace runs collapsed to one space, stripped.
Two prompts with the same normal form are exact duplicates; the first in input order is kept.

*Near duplicates*: each prompt is the set :math:`S` of its character ``k``-grams (``k = 5``) of
the normal form. Two prompts are near duplicates when their Jaccard similarity
:math:`|S_1 \cap S_2| / |S_1 \cup S_2|` reaches ``threshold``. Candidates come from MinHash
signatures (``n_bands * rows_per_band`` seeded orders of the shingles) banded for
locality-sensitive hashing [Broder97]_; each candidate pair is then *verified with the exact
Jaccard* of the shingle sets, so the bands only decide which pairs are looked at. With 32 bands
of 4 rows a pair of similarity 0.8 becomes a candidate with probability
:math:`1 - (1 - 0.8^4)^{32} > 0.9999`. Prompts are scanned in input order; a prompt is removed
when it is a near duplicate of an earlier *kept* prompt (the most similar one is named).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_WS = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC, casefolded, whitespace collapsed and stripped."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


@dataclass(frozen=True, slots=True)
class Dedup:
    """Outcome per prompt: ``kind`` is ``""`` (kept), ``"exact"`` or ``"near"``;
    ``duplicate_of`` the index of the kept prompt it repeats (-1 when kept); ``similarity``
    the exact Jaccard similarity to it (1.0 for exact duplicates, NaN when kept)."""

    keep: npt.NDArray[np.bool_]
    kind: tuple[str, ...]
    duplicate_of: npt.NDArray[np.int64]
    similarity: npt.NDArray[np.float64]
    threshold: float
    shingle: int

    @property
    def n_exact(self) -> int:
        """Number of exact duplicates removed."""
        return sum(k == "exact" for k in self.kind)

    @property
    def n_near(self) -> int:
        """Number of near duplicates removed."""
        return sum(k == "near" for k in self.kind)


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64 finaliser (wrapping uint64 arithmetic)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out: npt.NDArray[np.uint64] = x ^ (x >> np.uint64(31))
    return out


def shingles(text: str, k: int = 5) -> npt.NDArray[np.uint64]:
    """Sorted unique 64-bit hashes of the character ``k``-grams of ``text`` (already normal).

    A text shorter than ``k`` is one shingle.
    """
    cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(cp) == 0:
        return np.zeros(1, dtype=np.uint64)
    if len(cp) < k:
        cp = np.concatenate([cp, np.zeros(k - len(cp), dtype=np.uint64)])
    n = len(cp) - k + 1
    h = np.zeros(n, dtype=np.uint64)
    for j in range(k):  # polynomial hash of each window, then mixed
        h = h * np.uint64(1_000_003) + cp[j : j + n]
    return np.unique(_mix(h))


def minhash(sh: npt.NDArray[np.uint64], seeds: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    r"""MinHash signature: for each seed :math:`s_j`, :math:`\min_x \mathrm{mix}(x \oplus s_j)`
    over the shingle hashes *x* (``mix`` is the splitmix64 finaliser, a bijection of 64-bit
    words, so each seed gives a pseudo-random order of the shingles)."""
    out: npt.NDArray[np.uint64] = _mix(sh[:, None] ^ seeds[None, :]).min(axis=0)
    return out


def jaccard(x: npt.NDArray[np.uint64], y: npt.NDArray[np.uint64]) -> float:
    """Exact Jaccard similarity of two sorted unique hash arrays."""
    inter = len(np.intersect1d(x, y, assume_unique=True))
    return inter / (len(x) + len(y) - inter)


def deduplicate(
    texts: list[str] | tuple[str, ...],
    *,
    near: bool = True,
    threshold: float = 0.8,
    shingle: int = 5,
    n_bands: int = 32,
    rows_per_band: int = 4,
    seed: int = 0,
) -> Dedup:
    """Exact and near-duplicate detection (see the module docstring).

    Parameters
    ----------
    texts:
        Prompts in input order (earlier ones win).
    near:
        Also remove near duplicates (Jaccard of character shingles ``>= threshold``).
    threshold:
        Jaccard similarity from which two prompts count as near duplicates.
    shingle:
        Character ``k`` of the shingles.
    n_bands, rows_per_band:
        LSH banding of the ``n_bands * rows_per_band`` MinHash values.
    seed:
        Seed of the hash functions (only decides which pairs are examined).
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], not {threshold}")
    n = len(texts)
    norm = [normalize_text(t) for t in texts]
    keep = np.ones(n, dtype=bool)
    kind = [""] * n
    dup = np.full(n, -1, dtype=np.int64)
    sim = np.full(n, np.nan)
    first: dict[str, int] = {}
    for i, t in enumerate(norm):
        if t in first:
            keep[i], kind[i], dup[i], sim[i] = False, "exact", first[t], 1.0
        else:
            first[t] = i
    if near and n > 1:
        gen = np.random.default_rng(seed)
        n_perm = n_bands * rows_per_band
        seeds = gen.integers(0, np.iinfo(np.uint64).max, n_perm, dtype=np.uint64,
                             endpoint=True)
        sh: dict[int, npt.NDArray[np.uint64]] = {}
        buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
        for i in range(n):
            if not keep[i]:
                continue
            s = shingles(norm[i], shingle)
            sig = minhash(s, seeds)
            cands: set[int] = set()
            keys = [(band, sig[band * rows_per_band:(band + 1) * rows_per_band].tobytes())
                    for band in range(n_bands)]
            for key in keys:
                cands.update(buckets.get(key, ()))
            best, best_sim = -1, -1.0
            for j in sorted(cands):
                v = jaccard(s, sh[j])
                if v >= threshold and v > best_sim:
                    best, best_sim = j, v
            if best >= 0:
                keep[i], kind[i], dup[i], sim[i] = False, "near", best, best_sim
                continue
            sh[i] = s
            for key in keys:
                buckets[key].append(i)
    for i in range(n):  # an exact duplicate of a prompt later found near-duplicate: follow it
        while dup[i] >= 0 and not keep[dup[i]]:
            dup[i] = dup[dup[i]]
    return Dedup(keep, tuple(kind), dup, sim, threshold, shingle)
