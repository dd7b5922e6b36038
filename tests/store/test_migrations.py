"""Schema revisions: replaying them gives the models' schema, and a store made by an
earlier revision is upgraded in place, keeping its jobs."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, text

from chunkwise.errors import StoreSchemaError
from chunkwise.store import Store
from chunkwise.store import jobs as job_rows
from chunkwise.store import results as result_rows
from chunkwise.store.models import Base, JobState
from chunkwise.store.schema import REVISION_TABLE, head_revision, migrations_config
from tests.store.conftest import POSTGRES_URL

PREVIOUS = "0001"
"""The revision before the head: a store made by the release before this one."""

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="CHUNKWISE_TEST_POSTGRES_URL not set"),
    ),
]


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes an empty database on the backend; PostgreSQL's are dropped after the test."""
    if request.param == "sqlite":
        yield lambda: f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"
    else:
        yield request.getfixturevalue("new_postgres_database")


def migrate(url: str, revision: str) -> None:
    """Run the revisions up (or down) to `revision` on the database at `url`."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            config = migrations_config(connection)
            current = MigrationContext.configure(connection).get_current_revision()
            if revision == "base" or (current and current > revision):
                command.downgrade(config, revision)
            else:
                command.upgrade(config, revision)
    finally:
        engine.dispose()


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_replaying_every_revision_gives_the_schema_the_models_declare(
    empty_database: Callable[[], str],
) -> None:
    url = empty_database()
    migrate(url, head_revision())
    engine = create_engine(url)
    try:
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def test_the_revisions_go_down_to_nothing_and_up_again(
    empty_database: Callable[[], str],
) -> None:
    url = empty_database()
    migrate(url, head_revision())
    migrate(url, "base")
    migrate(url, head_revision())
    store = Store(url)
    try:
        assert store.schema_revision() == head_revision()
    finally:
        store.dispose()


def add_old_job(url: str, *, job_id: uuid.UUID) -> None:
    """A finished two-chunk job as the previous revision's tables held it."""
    engine = create_engine(url)
    now = "2026-11-20 10:00:00+00:00"
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO jobs (id, kind, params, state, total_chunks, completed_chunks,"
                    " cached_chunks, use_cache, result, created_at, finished_at) VALUES (:id,"
                    " 'prime_count', :params, 'SUCCESS', 2, 2, 0, :yes, :result, :now, :now)"
                ),
                {
                    "id": job_id.hex if url.startswith("sqlite") else str(job_id),
                    "params": '{"n":100,"chunks":2}',
                    "yes": True,
                    "result": '{"count":25}',
                    "now": now,
                },
            )
            for index, partial in enumerate((15, 10)):
                connection.execute(
                    text(
                        "INSERT INTO chunks (job_id, idx, spec, partial, cache_hits, attempts,"
                        " finished_at) VALUES (:id, :idx, '{}', :partial, 0, 1, :now)"
                    ),
                    {
                        "id": job_id.hex if url.startswith("sqlite") else str(job_id),
                        "idx": index,
                        "partial": str(partial),
                        "now": now,
                    },
                )
    finally:
        engine.dispose()


@pytest.mark.parametrize("stamped", [True, False], ids=["previous-revision", "before-revisions"])
def test_a_store_made_by_an_earlier_release_is_upgraded_keeping_its_jobs(
    empty_database: Callable[[], str], stamped: bool
) -> None:
    """Stamped: made by the previous revision. Not stamped: a `.chunkwise/` store made by
    a release from before the revisions, whose tables were those of the first one."""
    url = empty_database()
    migrate(url, PREVIOUS)
    if not stamped:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE {REVISION_TABLE}"))
        engine.dispose()
    job_id = uuid.uuid4()
    add_old_job(url, job_id=job_id)

    store = Store(url)
    try:
        change = store.upgrade_schema()
        assert (change.before, change.after) == (PREVIOUS if stamped else None, head_revision())
        with store.reader() as session:
            job = job_rows.get_job(session, job_id=job_id)
            assert job is not None
            assert (job.state, job.result, job.demo, job.owner_id) == (
                JobState.SUCCESS,
                {"count": 25},
                False,
                None,
            )
            assert result_rows.chunk_partials(session, job_id=job_id) == [15, 10]
        with store.writer() as session:
            job_rows.create_job(
                session, kind="prime_count", params={"n": 10}, specs=[{}], owner_id=uuid.uuid4()
            )
        assert store.upgrade_schema().changed is False
    finally:
        store.dispose()
    engine = create_engine(url)
    try:
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def test_a_store_from_a_newer_release_stops_the_start_with_a_clear_error(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    store = Store(url)
    try:
        store.upgrade_schema()
        with store.engine.begin() as connection:
            connection.execute(text(f"UPDATE {REVISION_TABLE} SET version_num = '9999'"))
        with pytest.raises(StoreSchemaError, match=r"revision 9999.*newer release"):
            store.upgrade_schema()
    finally:
        store.dispose()
