"""Admission counts the unfinished work in one query and refuses a job past the bounds
before anything of it is stored, on every backend."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from chunkwise.config import Settings
from chunkwise.engine import create_celery, submit_job
from chunkwise.engine.admission import AdmissionBounds, admit
from chunkwise.errors import AdmissionRefusedError
from chunkwise.store import Store, jobs, recording
from tests.store.sample_jobs import make_job


def test_unfinished_work_counts_unended_jobs_and_their_unrecorded_chunks(store: Store) -> None:
    pending, running, ended = make_job(store, 3), make_job(store, 4), make_job(store, 5)
    with store.writer() as session:
        recording.record_chunk(session, job_id=running, index=0, partial=1, worker="w")
        jobs.cancel_job(session, job_id=ended)

    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with store.reader() as session:
        work = jobs.unfinished_work(session)

    assert pending and (work.jobs, work.chunks) == (2, 3 + 3)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


def test_unfinished_jobs_are_found_by_their_state_index(store: Store) -> None:
    if store.backend != "sqlite":
        pytest.skip("a small PostgreSQL table is scanned whatever its indexes")
    with store.reader() as session:
        compiled = jobs._UNFINISHED_WORK.compile(
            session.get_bind(), compile_kwargs={"literal_binds": True}
        )
        plan = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    assert "ix_jobs_state" in str(plan)


def test_no_jobs_is_no_work(store: Store) -> None:
    with store.reader() as session:
        assert jobs.unfinished_work(session) == jobs.UnfinishedWork(jobs=0, chunks=0)


@pytest.mark.parametrize(
    ("bounds", "chunks", "named"),
    [
        (AdmissionBounds(max_active_jobs=1, max_queued_chunks=100, retry_after_s=3), 1, "JOBS"),
        (AdmissionBounds(max_active_jobs=9, max_queued_chunks=5, retry_after_s=3), 2, "CHUNKS"),
    ],
)
def test_a_job_past_a_bound_is_refused_and_not_stored(
    store: Store, bounds: AdmissionBounds, chunks: int, named: str
) -> None:
    make_job(store, 4)
    app = create_celery(Settings(broker_url="redis://127.0.0.1:9/0"))  # never reached
    with pytest.raises(AdmissionRefusedError, match=named) as refused:
        submit_job(
            store,
            app,
            kind="sum_range",
            params={"n": 100},
            chunks=chunks,
            limits={},
            admission=bounds,
        )
    assert refused.value.retry_after_s == 3
    with store.reader() as session:
        assert jobs.count_jobs(session) == 1


def test_a_job_that_fits_exactly_is_admitted(store: Store) -> None:
    make_job(store, 4)
    bounds = AdmissionBounds(max_active_jobs=2, max_queued_chunks=6, retry_after_s=1)
    with store.writer() as session:
        admit(session, bounds=bounds, chunks=2)
