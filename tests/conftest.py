"""Shared fixtures: where the shared data lives, and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the project; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (clone ../shared beside the project)")
    return SHARED_DATA


@pytest.fixture
def artifacts_dir() -> Path:
    """Where tests save artifacts (screenshots, reports) for people to look at."""
    d = ROOT / "test-artifacts"
    d.mkdir(exist_ok=True)
    return d
