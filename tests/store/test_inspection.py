"""The dashboard's reads: a job's chunks, totals by state, live workers; on every backend."""

from __future__ import annotations

import uuid

from chunkwise.store import JobState, Store, jobs, recording
from chunkwise.store import workers as worker_rows
from chunkwise.store.inspection import job_chunks, job_stats, live_worker_rows
from tests.store.sample_jobs import make_job


def _start_and_record(store: Store, job_id: uuid.UUID, index: int, worker: str = "w@host") -> None:
    with store.write_connection() as connection:
        recording.start_chunk(connection, job_id=job_id, index=index, max_attempts=5)
    with store.write_connection() as connection:
        recording.record_chunk(
            connection,
            job_id=job_id,
            index=index,
            partial=index,
            worker=worker,
            cache_hits=index,
        )


def test_a_jobs_chunks_show_what_each_has_reached(store: Store) -> None:
    job_id = make_job(store, chunks=3)
    _start_and_record(store, job_id, 0)
    with store.write_connection() as connection:
        recording.start_chunk(connection, job_id=job_id, index=1, max_attempts=5)
    with store.reader() as session:
        rows = job_chunks(session, job_id=job_id)
    assert [(r.index, r.recorded, r.attempts) for r in rows] == [
        (0, True, 1),
        (1, False, 1),
        (2, False, 0),
    ]
    assert rows[0].worker == "w@host" and rows[0].finished_at is not None
    assert rows[0].started_at is not None and rows[0].started_at <= rows[0].finished_at
    assert rows[1].started_at is not None and rows[1].finished_at is None
    assert rows[2].started_at is None and rows[2].worker is None


def test_stats_count_jobs_by_state_and_the_chunks_of_the_last_minute(store: Store) -> None:
    done, failed, _pending = make_job(store, chunks=2), make_job(store), make_job(store)
    _start_and_record(store, done, 0)
    _start_and_record(store, done, 1)
    with store.writer() as session:
        jobs.finish_job(session, job_id=done, result={"sum": 1})
        jobs.fail_job(session, job_id=failed, error="boom")
    with store.reader() as session:
        stats = job_stats(session)
    assert stats.by_state == {"SUCCESS": 1, "FAILURE": 1, "PENDING": 1}
    assert stats.chunks_last_window == 2
    assert stats.average_duration_s is not None and 0 <= stats.average_duration_s < 60


def test_live_workers_carry_their_load_and_the_chunks_they_recorded(store: Store) -> None:
    job_id = make_job(store, chunks=3)
    with store.writer() as session:
        worker_rows.heartbeat(session, name="a@one", holding=[f"{job_id}:2"], processes=2)
        worker_rows.heartbeat(session, name="b@two", processes=1)
    _start_and_record(store, job_id, 0, worker="a@one")
    _start_and_record(store, job_id, 1, worker="a@one")
    with store.reader() as session:
        rows = live_worker_rows(session, ttl_s=60)
    assert [(r.name, r.processes, r.holding, r.chunks_done) for r in rows] == [
        ("a@one", 2, [f"{job_id}:2"], 2),
        ("b@two", 1, [], 0),
    ]
    with store.reader() as session:
        assert live_worker_rows(session, ttl_s=-60) == []


def test_job_lists_filter_by_state_and_kind(store: Store) -> None:
    first, second = make_job(store), make_job(store)
    with store.writer() as session:
        jobs.cancel_job(session, job_id=first)
    with store.reader() as session:
        cancelled = jobs.list_jobs(session, limit=10, offset=0, states=[JobState.CANCELLED])
        either = jobs.count_jobs(session, states=[JobState.CANCELLED, JobState.PENDING])
        other_kind = jobs.count_jobs(session, kinds=["prime_count"])
        sums = jobs.list_jobs(session, limit=10, offset=0, kinds=["sum_range"])
    assert [job.id for job in cancelled] == [first]
    assert either == 2 and other_kind == 0
    assert [job.id for job in sums] == [second, first]
