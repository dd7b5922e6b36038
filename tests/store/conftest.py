"""The store contract suite runs on SQLite always, and on PostgreSQL when
CHUNKWISE_TEST_POSTGRES_URL names a server (CI sets it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chunkwise.config import Settings
from chunkwise.store import Store
from chunkwise.store.models import Base

POSTGRES_URL = os.environ.get("CHUNKWISE_TEST_POSTGRES_URL", "")

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="CHUNKWISE_TEST_POSTGRES_URL not set"),
    ),
]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = Settings(database_url=POSTGRES_URL).resolved_database_url
    store = Store(url)
    Base.metadata.drop_all(store.engine)
    store.create_schema()
    yield store
    Base.metadata.drop_all(store.engine)
    store.dispose()
