"""Fixtures of the reward-model tests."""

from __future__ import annotations

import pytest
from rm_helpers import synthetic_pairs

from preflab.rm import PreferencePairs


@pytest.fixture
def toy_pairs() -> PreferencePairs:
    return synthetic_pairs(120)
