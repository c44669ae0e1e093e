"""The reward-backend interface, images included, and a stub multimodal backend for tests.

Every reward model in preflab.rm is used through one duck-typed interface
(:class:`RewardBackend`), so a multimodal reward model (BaseReward-style: a vision-language
model encoding prompt, response text and image, with a small reward head [BaseReward25]_)
plugs into ``score``, ``rm judge``, ``best-of-n`` and ``eval`` unchanged:

- ``name: str``: used as ``judge = rm:<name>`` in the tables it writes;
- ``aspects: tuple[str, ...]``: the heads it has (``("overall",)`` at least);
- ``score(prompts, texts, *, aspect=None, images=None) -> ndarray``: one float a response;
  ``images[i]`` is the responses table's ``image`` value for response ``i`` (a local path or
  a URL, or ``None``), passed through untouched from the data model.

A real multimodal backend loads its images itself (and should fail with a
:class:`~preflab._errors.DataError` naming the path when one cannot be read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@runtime_checkable
class RewardBackend(Protocol):
    """What every reward model provides (see the module docstring)."""

    name: str

    @property
    def aspects(self) -> tuple[str, ...]: ...

    def score(self, prompts: Sequence[str], texts: Sequence[str], *, aspect: str | None = None,
              images: Sequence[str | None] | None = None) -> FloatArray: ...


@dataclass
class StubImageBackend:
    """A STUB multimodal backend for tests of the image plumbing; it does not look at pixels.

    Its reward is ``text_model.score(...)`` (0 without one) plus ``image_bonus`` for each
    response that has an image reference, and it records every ``images`` argument it receives
    in ``seen_images`` so tests can check that images travel from the responses table to the
    backend.
    """

    text_model: Any = None
    image_bonus: float = 1.0
    name: str = "stub-image"

    def __post_init__(self) -> None:
        self.seen_images: list[str | None] = []

    @property
    def aspects(self) -> tuple[str, ...]:
        return ("overall",)

    def score(self, prompts: Sequence[str], texts: Sequence[str], *, aspect: str | None = None,
              images: Sequence[str | None] | None = None) -> FloatArray:
        imgs = list(images) if images is not None else [None] * len(texts)
        self.seen_images.extend(imgs)
        base = (np.zeros(len(texts)) if self.text_model is None
                else np.asarray(self.text_model.score(prompts, texts, aspect=aspect), float))
        return base + self.image_bonus * np.array([i is not None for i in imgs], float)
