"""A job's life in the store (created, read, listed, ended once, deleted), on every backend."""

from __future__ import annotations

import uuid

from sqlalchemy import String, inspect, text, update

from chunkwise.store import Job, JobState, Store, jobs, recording
from tests.store.sample_jobs import make_job


def test_a_new_job_is_pending_with_its_chunks(store: Store) -> None:
    job_id = make_job(store, chunks=3)
    with store.reader() as session:
        job = jobs.get_job(session, job_id=job_id)
        chunks = jobs.list_chunks(session, job_id=job_id)
    assert job is not None
    assert (job.state, job.completed_chunks, job.total_chunks) == (JobState.PENDING, 0, 3)
    assert job.created_at.tzinfo is not None
    assert [chunk.spec for chunk in chunks] == [
        {"lo": 0, "hi": 0},
        {"lo": 1, "hi": 1},
        {"lo": 2, "hi": 2},
    ]
    assert all(chunk.partial is None for chunk in chunks)


def test_a_job_ends_once(store: Store) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        assert jobs.finish_job(session, job_id=job_id, result={"sum": 1})
    with store.writer() as session:
        assert not jobs.fail_job(session, job_id=job_id, error="late failure")
        late = recording.record_chunk(session, job_id=job_id, index=0, partial=1, worker="w")
    with store.reader() as session:
        job = jobs.get_job(session, job_id=job_id)
    assert job is not None
    assert (job.state, job.result, job.error) == (JobState.SUCCESS, {"sum": 1}, None)
    assert job.finished_at is not None and job.started_at is not None
    assert not late.recorded and late.job_state == JobState.SUCCESS


def test_a_failed_job_keeps_its_error(store: Store) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        assert jobs.fail_job(session, job_id=job_id, error="chunk 2 failed: ValueError: bad")
    with store.reader() as session:
        job = jobs.get_job(session, job_id=job_id)
    assert job is not None and job.state == JobState.FAILURE
    assert job.error == "chunk 2 failed: ValueError: bad"


def test_cancel_moves_only_a_running_job(store: Store) -> None:
    running, finished = make_job(store), make_job(store)
    with store.writer() as session:
        recording.record_chunk(session, job_id=running, index=0, partial=1, worker="w")
        jobs.finish_job(session, job_id=finished, result={"sum": 1})
    with store.writer() as session:
        assert jobs.cancel_job(session, job_id=running)
    with store.writer() as session:
        assert not jobs.cancel_job(session, job_id=running)
        assert not jobs.cancel_job(session, job_id=finished)
        assert not jobs.cancel_job(session, job_id=uuid.uuid4())
    with store.reader() as session:
        job, done = jobs.get_job(session, job_id=running), jobs.get_job(session, job_id=finished)
    assert job is not None and job.state == JobState.CANCELLED
    assert job.finished_at is not None and job.result is None
    assert done is not None and done.state == JobState.SUCCESS


def test_an_ended_job_revokes_only_its_unrecorded_chunks(store: Store) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        recording.record_chunk(session, job_id=job_id, index=1, partial=1, worker="w")
        jobs.cancel_job(session, job_id=job_id)
    with store.reader() as session:
        assert jobs.unrecorded_indices(session, job_id=job_id) == [0, 2, 3]


def test_jobs_list_newest_first_in_pages(store: Store) -> None:
    ids = [make_job(store, chunks=1) for _ in range(5)]
    with store.reader() as session:
        first = jobs.list_jobs(session, limit=3, offset=0)
        rest = jobs.list_jobs(session, limit=3, offset=3)
        total = jobs.count_jobs(session)
    assert total == 5
    assert [job.id for job in first + rest] == list(reversed(ids))


def test_deleting_a_job_removes_its_chunks(store: Store) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        jobs.delete_job(session, job_id=job_id)
    with store.reader() as session:
        assert jobs.get_job(session, job_id=job_id) is None
        assert jobs.list_chunks(session, job_id=job_id) == []


def test_the_state_column_holds_the_state_names_as_text(store: Store) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        recording.record_chunk(session, job_id=job_id, index=0, partial=1, worker="w")
    with store.reader() as session:
        stored = session.execute(text("SELECT state FROM jobs")).scalar_one()
    (column,) = [c for c in inspect(store.engine).get_columns("jobs") if c["name"] == "state"]
    assert (type(stored), stored) == (str, "PROGRESS")
    assert isinstance(column["type"], String) and column["type"].length == 16


def test_a_state_written_as_text_reads_as_a_job_state(store: Store) -> None:
    """A database written before the column was typed holds the same text, and reads so."""
    running, ended = make_job(store), make_job(store)
    with store.writer() as session:
        session.execute(text("UPDATE jobs SET state = 'CANCELLED'"))
        session.execute(update(Job).where(Job.id == running).values(state=JobState.STARTED))
    with store.reader() as session:
        job, done = jobs.get_job(session, job_id=running), jobs.get_job(session, job_id=ended)
        work = jobs.unfinished_work(session)
    assert job is not None and done is not None
    assert (job.state, done.state) == (JobState.STARTED, JobState.CANCELLED)
    assert type(done.state) is JobState and done.state.is_terminal
    assert work.jobs == 1
