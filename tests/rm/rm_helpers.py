"""Helpers of the reward-model tests: small synthetic pairs with a known rule."""

from __future__ import annotations

import numpy as np

from preflab.rm import FeatureConfig, PreferencePairs

FAST = FeatureConfig(embeddings=None, n_features=2**14)
"""Hashed features only (no sentence embeddings), small hashing space: fast tests."""

GOOD = ["glad to help with", "here is a careful answer about", "a clear explanation of",
        "a detailed and honest note on"]
BAD = ["no idea about", "whatever, figure out", "i refuse to discuss", "go away with"]
TOPICS = ["tea", "bikes", "rain", "maps", "clocks", "bread", "chess", "rivers", "lamps", "ink"]


def synthetic_pairs(n: int, rng: int = 0, aspect: str = "overall",
                    good: list[str] | None = None, bad: list[str] | None = None
                    ) -> PreferencePairs:
    """Pairs whose chosen reply uses a 'good' phrase and rejected a 'bad' one."""
    gen = np.random.default_rng(rng)
    good, bad = good or GOOD, bad or BAD
    prompts, chosen, rejected = [], [], []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        prompts.append(f"Human: tell me about {topic} number {i}\n\nAssistant:")
        chosen.append(f" {good[gen.integers(len(good))]} {topic}.")
        rejected.append(f" {bad[gen.integers(len(bad))]} {topic}.")
    return PreferencePairs.from_lists(prompts, chosen, rejected, aspect=[aspect] * n,
                                      pair_id=[f"{aspect}-{i}" for i in range(n)])
