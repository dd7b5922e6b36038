"""Connections to the job store: one `Store` per database URL, SQLite or PostgreSQL.

SQLite is shared by the API and every worker process, so it runs in WAL mode (readers
never block the writer) and every writing transaction starts with BEGIN IMMEDIATE: a
deferred transaction that reads first and writes later can fail at once with "database
is locked" when another process wrote in between, instead of waiting its turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from chunkwise.errors import StoreUnavailableError
from chunkwise.store.models import Base

SQLITE_BUSY_TIMEOUT_MS = 30_000
_IMMEDIATE = "chunkwise_immediate"


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, and explicit BEGIN so writers can ask for BEGIN IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def build_engine(url: str) -> Engine:
    """An engine for `url`; for SQLite the file's folder is created and WAL is set up."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})
    _configure_sqlite(engine)
    return engine


class Store:
    """The job store at one URL: schema creation and read or write sessions.

    The engine is built on first use, so a Store can be made before a process forks
    (Celery prefork) and each child opens its own connections.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._readers: sessionmaker[Session] | None = None
        self._writers: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        return self._sessionmakers()[0]

    def _sessionmakers(self) -> tuple[Engine, sessionmaker[Session], sessionmaker[Session]]:
        if self._engine is None or self._readers is None or self._writers is None:
            self._engine = build_engine(self.url)
            self._readers = sessionmaker(self._engine, expire_on_commit=False)
            self._writers = sessionmaker(
                self._engine.execution_options(**{_IMMEDIATE: True}), expire_on_commit=False
            )
        return self._engine, self._readers, self._writers

    @property
    def backend(self) -> str:
        return make_url(self.url).get_backend_name()

    def create_schema(self) -> None:
        """Create any missing tables (migrations may replace this later)."""
        with self._unavailable_as_error():
            Base.metadata.create_all(self.engine)

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A session for reads; it writes nothing and commits nothing."""
        readers = self._sessionmakers()[1]
        with self._unavailable_as_error(), readers() as session:
            yield session

    @contextmanager
    def writer(self) -> Iterator[Session]:
        """A session whose work commits together on exit, or rolls back on an error."""
        writers = self._sessionmakers()[2]
        with self._unavailable_as_error(), writers() as session, session.begin():
            yield session

    def reset_after_fork(self) -> None:
        """Drop connections inherited from a parent process without closing them for it."""
        if self._engine is not None:
            self._engine.dispose(close=False)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    @contextmanager
    def _unavailable_as_error(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            if exc.connection_invalidated or _is_connect_failure(exc):
                raise StoreUnavailableError(f"the job store does not answer: {exc.orig}") from exc
            raise


def _is_connect_failure(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return any(
        marker in text
        for marker in ("connection refused", "could not connect", "unable to open", "timeout")
    )
