"""Which store errors are transient, judged on exceptions real databases raise, and what
an unreachable store tells the caller: that it does not answer, and nothing more."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    BindParameter,
    Connection,
    Engine,
    bindparam,
    create_engine,
    event,
    text,
    update,
)
from sqlalchemy.exc import StatementError

from chunkwise.config import Settings
from chunkwise.errors import StoreOutageError, StoreUnavailableError
from chunkwise.launcher import free_port
from chunkwise.store import Chunk, Store, jobs
from chunkwise.store import db as store_db
from chunkwise.store.db import STORE_DOES_NOT_ANSWER, is_transient, is_unavailable
from tests.store.conftest import POSTGRES_URL

Statement = Callable[[Connection], object]


def raised(engine: Engine, statement: Statement) -> BaseException:
    """The exception `statement` raises on a connection of `engine`."""
    with pytest.raises(Exception) as caught, engine.connect() as connection:  # noqa: PT011
        statement(connection)
    return caught.value


# SQLite ----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file with a table `t`, on connections that never wait for a lock and
    allow 10 bound variables and 1,000-byte values, so the limits are met cheaply."""
    engine = create_engine(f"sqlite:///{tmp_path / 'errors.db'}", connect_args={"timeout": 0})

    @event.listens_for(engine, "connect")
    def _limits(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 10)
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000)

    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER PRIMARY KEY, s TEXT)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1, 'one')")
    yield engine
    engine.dispose()


def test_a_sqlite_file_locked_by_another_writer_is_transient(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as holder:
        holder.exec_driver_sql("BEGIN IMMEDIATE")
        holder.exec_driver_sql("UPDATE t SET s = 'held'")
        exc = raised(sqlite_engine, lambda c: c.exec_driver_sql("BEGIN IMMEDIATE"))
        holder.rollback()
    assert "database is locked" in str(exc)
    assert is_transient(exc) and is_unavailable(exc)


def test_a_sqlite_file_that_cannot_be_opened_is_transient(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    exc = raised(engine, lambda c: c.exec_driver_sql("SELECT 1"))
    assert "unable to open" in str(exc)
    assert is_transient(exc) and is_unavailable(exc)


def test_a_locked_store_is_unavailable_without_the_drivers_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(store_db, "SQLITE_BUSY_TIMEOUT_MS", 50)
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade_schema()
    holder = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailableError) as caught, store.writer() as session:
            jobs.count_jobs(session)
    finally:
        holder.rollback()
        holder.close()
        store.dispose()
    assert str(caught.value) == STORE_DOES_NOT_ANSWER
    assert is_transient(caught.value)
    assert "database is locked" in caplog.text


def test_an_outage_verdict_is_not_transient() -> None:
    assert not is_transient(StoreOutageError("the job store did not answer for 300 s"))
    assert not is_transient(ValueError("not a store error"))


# Both backends -------------------------------------------------------------------------


def test_errors_never_carry_bound_values(store: Store) -> None:
    with pytest.raises(StatementError) as caught, store.writer() as session:
        session.execute(text("SELEC :secret"), {"secret": "s3cret-value"})
    assert "s3cret-value" not in str(caught.value)
    assert not is_transient(caught.value)


# PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    if not POSTGRES_URL:
        pytest.skip("CHUNKWISE_TEST_POSTGRES_URL not set")
    engine = create_engine(Settings(database_url=POSTGRES_URL).resolved_database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS chunkwise_errors_t")
        connection.exec_driver_sql("CREATE TABLE chunkwise_errors_t (x INTEGER PRIMARY KEY)")
        connection.exec_driver_sql("INSERT INTO chunkwise_errors_t VALUES (1)")
    yield engine
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS chunkwise_errors_t")
    engine.dispose()


def test_a_connection_the_server_terminates_is_transient(pg_engine: Engine) -> None:
    with pg_engine.connect() as victim, pg_engine.connect() as admin:
        pid = victim.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid or 0)})")
        with pytest.raises(StatementError) as caught:
            victim.exec_driver_sql("SELECT 1")
    assert "terminating connection" in str(caught.value)
    assert is_transient(caught.value) and is_unavailable(caught.value)


def test_a_serialization_failure_is_transient_but_the_store_answers(pg_engine: Engine) -> None:
    reader = pg_engine.connect().execution_options(isolation_level="REPEATABLE READ")
    try:
        reader.exec_driver_sql("SELECT x FROM chunkwise_errors_t").all()
        with pg_engine.begin() as writer:
            writer.exec_driver_sql("UPDATE chunkwise_errors_t SET x = 2 WHERE x = 1")
        with pytest.raises(StatementError) as caught:
            reader.exec_driver_sql("UPDATE chunkwise_errors_t SET x = 3 WHERE x = 1")
    finally:
        reader.close()
    assert "could not serialize" in str(caught.value)
    assert is_transient(caught.value)
    assert not is_unavailable(caught.value)


def test_a_refused_connection_is_unavailable_without_naming_host_or_user(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"postgresql+psycopg://secret_user:pw@127.0.0.1:{free_port()}/secret_db"
    store = Store(url)
    with (
        caplog.at_level(logging.WARNING, logger=store_db.__name__),
        pytest.raises(StoreUnavailableError) as caught,
        store.reader() as session,
    ):
        jobs.count_jobs(session)
    assert str(caught.value) == STORE_DOES_NOT_ANSWER
    assert is_transient(caught.value)
    assert "refused" in caplog.text.lower()


# Deterministic errors, on each backend ---------------------------------------------------

EXPANDING_IN: BindParameter[Any] = bindparam("xs", expanding=True)


def unstorable_partial(connection: Connection) -> object:
    """What recording a numpy scalar or any non-JSON partial raises: a StatementError."""
    return connection.execute(update(Chunk).values(partial=object()))


def cancelled_by_timeout(connection: Connection) -> object:
    connection.exec_driver_sql("SET statement_timeout = 10")
    return connection.exec_driver_sql("SELECT pg_sleep(1)")


DETERMINISTIC: dict[str, dict[str, Statement]] = {
    "sqlite": {
        "too many variables": lambda c: c.execute(
            text("SELECT x FROM t WHERE x IN :xs").bindparams(EXPANDING_IN),
            {"xs": list(range(11))},
        ),
        "duplicate key": lambda c: c.exec_driver_sql("INSERT INTO t VALUES (1, 'again')"),
        "value too big": lambda c: c.execute(text("SELECT :s"), {"s": "x" * 2_000}),
        "wrong bindings": lambda c: c.exec_driver_sql("SELECT ?", (1, 2)),
        "syntax error": lambda c: c.exec_driver_sql("SELEC 1"),
        "unstorable partial": unstorable_partial,
    },
    "postgresql": {
        "too many parameters": lambda c: c.execute(
            text("SELECT 1 WHERE 1 IN :xs").bindparams(EXPANDING_IN),
            {"xs": list(range(70_000))},
        ),
        "duplicate key": lambda c: c.exec_driver_sql("INSERT INTO chunkwise_errors_t VALUES (1)"),
        "bad data": lambda c: c.exec_driver_sql("SELECT 'x'::integer"),
        "syntax error": lambda c: c.exec_driver_sql("SELEC 1"),
        "cancelled by timeout": cancelled_by_timeout,
        "unstorable partial": unstorable_partial,
    },
}
ENGINE_FIXTURE = {"sqlite": "sqlite_engine", "postgresql": "pg_engine"}


@pytest.mark.parametrize(
    ("backend", "what"),
    [(backend, what) for backend, statements in DETERMINISTIC.items() for what in statements],
)
def test_deterministic_errors_are_not_transient(
    request: pytest.FixtureRequest, backend: str, what: str
) -> None:
    engine: Engine = request.getfixturevalue(ENGINE_FIXTURE[backend])
    exc = raised(engine, DETERMINISTIC[backend][what])
    assert isinstance(exc, StatementError)
    assert not is_transient(exc)
    assert not is_unavailable(exc)
