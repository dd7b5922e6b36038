"""The store contract suite runs on SQLite always, and on PostgreSQL when
CHUNKWISE_TEST_POSTGRES_URL names a server (CI sets it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from chunkwise.config import Settings
from chunkwise.store import Store
from chunkwise.store.models import Base
from chunkwise.store.schema import REVISION_TABLE

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
    drop_schema(store)
    store.upgrade_schema()
    yield store
    drop_schema(store)
    store.dispose()


def drop_schema(store: Store) -> None:
    """Drop every table, the revision stamp too, so the next upgrade starts from nothing."""
    Base.metadata.drop_all(store.engine)
    with store.engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {REVISION_TABLE}"))
