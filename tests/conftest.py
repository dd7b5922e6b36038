"""Fixtures for every test folder (a folder's own conftest may override them), and the
plugins every run loads."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from chunkwise.config import Settings
from chunkwise.store import Store
from tests.api.in_process import Api, ServeInProcess, serving_in_process
from tests.memory_broker import empty_queue, memory_celery_app
from tests.store.conftest import POSTGRES_URL

pytest_plugins = ["pytester", "tests.process_guard"]
"""`pytester` runs pytest inside a test; `tests.process_guard` adds `pytest --unit`, the unit
loop, which may start no process."""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store. The store contract suite (tests/store) overrides this with
    one that runs on every backend."""
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade_schema()
    yield store
    store.dispose()


@pytest.fixture
def memory_celery() -> Iterator[Celery]:
    """A Celery app on kombu's in-memory transport, its chunk queue empty at the start and
    emptied again at the end (see tests/memory_broker.py)."""
    app = memory_celery_app()
    empty_queue(app)
    yield app
    empty_queue(app)
    app.close()


@pytest.fixture
def serve(tmp_path: Path, memory_celery: Celery) -> ServeInProcess:
    """`with serve(**settings) as api:` an in-process API (`tests/api/in_process.py`)."""
    return serving_in_process(tmp_path, memory_celery)


@pytest.fixture
def api(serve: ServeInProcess) -> Iterator[Api]:
    """An in-process API with the default settings."""
    with serve() as served:
        yield served


@pytest.fixture
def new_postgres_database() -> Iterator[Callable[[], str]]:
    """Makes new PostgreSQL databases for this test alone, and drops them after it."""
    if not POSTGRES_URL:
        pytest.skip("CHUNKWISE_TEST_POSTGRES_URL not set")
    server = make_url(Settings(database_url=POSTGRES_URL).resolved_database_url)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def create() -> str:
        name = f"chunkwise_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        names.append(name)
        return server.set(database=name).render_as_string(hide_password=False)

    try:
        yield create
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
