"""Fixtures for bench tests: a fake judge server on 127.0.0.1 and few BLAS threads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _bench_helpers import quality_reply

from preflab.judge._fake_server import FakeOpenAI


@pytest.fixture(autouse=True, scope="session")
def _few_threads() -> Iterator[None]:
    """One BLAS/OpenMP thread: the CI machine is small and shared (results do not change)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def judge_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=quality_reply) as srv:
        yield srv
