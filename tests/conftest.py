"""Fixtures for every test folder; a folder's own conftest may override them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chunkwise.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store. The store contract suite (tests/store) overrides this with
    one that runs on every backend."""
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.create_schema()
    yield store
    store.dispose()
