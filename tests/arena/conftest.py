"""Arena fixtures: a database per test (SQLite file, and PostgreSQL when configured)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the arena needs: pip install 'preflab[arena]'")

from arena_helpers import make_client, make_rows  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from preflab.arena import Store  # noqa: E402
from preflab.arena._store import metadata  # noqa: E402

PG_ENV = "PREFLAB_TEST_POSTGRES_URL"


def _fresh_postgres(url: str) -> str:
    """Drop the arena tables so every test starts empty."""
    store = Store(url)
    metadata.drop_all(store.engine)
    store.dispose()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL: SQLite in tmp_path, or the PostgreSQL test database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'arena.sqlite'}"
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} not set (start a server with: eval \"$(.ci/postgres.sh)\")")
    return _fresh_postgres(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'arena.sqlite'}"


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    c = make_client(db_url)
    c.app.state.arena.store.load_responses(make_rows())  # type: ignore[attr-defined]
    with c:
        yield c
    c.app.state.arena.store.dispose()  # type: ignore[attr-defined]
