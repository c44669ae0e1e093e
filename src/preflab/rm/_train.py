"""One entry point to train, save and load reward models of any backend."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from preflab._errors import PreflabError
from preflab.rm._features import FeatureConfig
from preflab.rm._model import DEFAULT_L2, EmbeddedRewardModel, train_embedded
from preflab.rm._pairs import PreferencePairs

BACKENDS = ("embedded", "transformers")


def train_reward_model(
    pairs: PreferencePairs, *, backend: str = "embedded", features: FeatureConfig | None = None,
    base_model: str | Path | None = None, validation: float = 0.2,
    l2: float | Sequence[float] = DEFAULT_L2, margin: float = 0.0, ties: str = "half",
    epochs: int | None = None, batch_size: int | None = None, lr: float | None = None,
    patience: int = 3, combine: dict[str, float] | str | None = None,
    rng: np.random.Generator | int | None = 0, name: str = "reward-model",
    max_length: int = 512, bags: int = 5, progress: Callable[..., None] | None = None,
) -> Any:
    r"""Train a Bradley-Terry reward model on preference pairs.

    Loss :math:`-\log\sigma(r(x_c) - r(x_r) - m)` with margin
    :math:`m = \text{margin}\cdot(\text{strength} - 1)`; ties (``ties="half"``) add
    :math:`-\tfrac12\log\sigma(d) - \tfrac12\log\sigma(-d)`, or are dropped (``"drop"``).
    A ``validation`` share of prompts is held out for early stopping (and, for the embedded
    backend, for choosing ``l2`` from a grid; its heads average ``bags`` such fits, each
    with its own validation share). One head is trained per ``aspect``; see
    :func:`preflab.rm._model.combination` for ``combine``.

    Parameters
    ----------
    backend:
        ``"embedded"`` (hashed TF-IDF n-grams, prompt x cue cross features, optional local
        sentence embeddings; linear heads; CPU) or ``"transformers"`` (any
        ``AutoModelForSequenceClassification`` checkpoint directory in ``base_model``;
        ``max_length`` tokens of ``prompt + reply``, truncated from the left).
    """
    start = time.perf_counter()
    if backend == "embedded":
        model: Any = train_embedded(
            pairs, features=features, validation=validation, l2=l2, margin=margin, ties=ties,
            epochs=epochs or 30, batch_size=batch_size or 128, lr=lr or 0.01,
            patience=patience, combine=combine, rng=rng, name=name, bags=bags,
            progress=progress)
    elif backend == "transformers":
        if base_model is None:
            raise PreflabError("the transformers backend needs base_model (a checkpoint "
                               "directory on disk)", )
        from preflab.rm._hf import train_transformers

        model = train_transformers(
            pairs, base_model=base_model, validation=validation, margin=margin, ties=ties,
            epochs=epochs or 1, batch_size=batch_size or 8, lr=lr or 2e-5, patience=patience,
            rng=rng, name=name, max_length=max_length, progress=progress)
    else:
        raise PreflabError(f"unknown backend '{backend}'; use one of {', '.join(BACKENDS)}")
    model.info["train_seconds"] = time.perf_counter() - start
    return model


def load_reward_model(directory: str | Path) -> Any:
    """Load a model saved by ``model.save(directory)`` (either backend)."""
    d = Path(directory)
    cfg_path = d / "preflab_rm.json" if (d / "preflab_rm.json").exists() else d / "config.json"
    if not cfg_path.exists():
        raise PreflabError(f"{d} is not a saved reward model (no config.json)",
                           )
    config = json.loads(cfg_path.read_text())
    backend = config.get("backend")
    if backend == "embedded":
        return EmbeddedRewardModel.load(d)
    if backend == "transformers":
        from preflab.rm._hf import TransformersRewardModel

        return TransformersRewardModel.load(d)
    raise PreflabError(f"{cfg_path}: unknown reward-model backend {backend!r}; train it with "
                       "preflab rm train")
