"""A DriverStatement returns what SQLAlchemy's own execution returns, and fails the same way."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import OperationalError

from chunkwise.store import Store, jobs
from chunkwise.store.db import is_transient
from chunkwise.store.driver_statements import DriverStatement
from chunkwise.store.models import Chunk, Job

_JOB_COLUMNS = select(
    Job.id, Job.kind, Job.params, Job.state, Job.created_at, Job.use_cache, Job.result
).where(Job.id == bindparam("b_job"))
_BUMP = (
    update(Chunk)
    .where(Chunk.job_id == bindparam("b_job"), Chunk.index == bindparam("b_index"))
    .values(attempts=Chunk.attempts + 1, partial=bindparam("b_partial"))
    .returning(Chunk.attempts, Chunk.partial, Chunk.spec)
)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade_schema()
    return store


def _new_job(store: Store) -> uuid.UUID:
    with store.writer() as session:
        job = jobs.create_job(
            session,
            kind="sum_range",
            params={"n": 10**30},
            specs=[{"start": 1, "stop": 2}, {"start": 2, "stop": 3}],
        )
        return job.id


def test_rows_come_back_converted_as_sqlalchemy_converts_them(sqlite_store: Store) -> None:
    job_id = _new_job(sqlite_store)
    with sqlite_store.write_connection() as connection:
        expected = tuple(connection.execute(_JOB_COLUMNS, {"b_job": job_id}).one())
        got = DriverStatement(_JOB_COLUMNS).execute(connection, {"b_job": job_id}).rows
    assert got == [expected]
    assert got[0][0] == job_id and got[0][2] == {"n": 10**30}
    assert got[0][4].tzinfo is not None and got[0][5] is True


def test_parameters_are_converted_and_rowcount_reported(sqlite_store: Store) -> None:
    job_id = _new_job(sqlite_store)
    bump = DriverStatement(_BUMP)
    with sqlite_store.write_connection() as connection:
        first = bump.execute(connection, {"b_job": job_id, "b_index": 1, "b_partial": [1, 2]})
        missing = bump.execute(connection, {"b_job": job_id, "b_index": 9, "b_partial": None})
    assert first.rows == [(1, [1, 2], {"start": 2, "stop": 3})] and first.rowcount == 1
    assert missing.rows == [] and missing.rowcount == 0


def test_a_locked_database_is_a_transient_sqlalchemy_error(
    sqlite_store: Store, tmp_path: Path
) -> None:
    job_id = _new_job(sqlite_store)
    holder = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with sqlite_store.engine.begin() as connection:  # deferred: it meets the lock
            connection.exec_driver_sql("PRAGMA busy_timeout=0")
            with pytest.raises(OperationalError) as caught:
                DriverStatement(_BUMP).execute(
                    connection, {"b_job": job_id, "b_index": 0, "b_partial": 1}
                )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert is_transient(caught.value)
