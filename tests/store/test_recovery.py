"""What the reaper and the orphan sweep ask: which chunks of running jobs are still owed."""

from __future__ import annotations

from chunkwise.store import Store, jobs, recording, recovery
from tests.store.sample_jobs import make_job


def test_unrecorded_chunks_of_running_jobs_are_pending(store: Store) -> None:
    running, ended = make_job(store, chunks=3), make_job(store, chunks=2)
    with store.writer() as session:
        recording.record_chunk(session, job_id=running, index=0, partial=1, worker="w")
        jobs.cancel_job(session, job_id=ended)
    keys = [(running, 0), (running, 2), (ended, 1)]
    with store.reader() as session:
        pending = recovery.unrecorded_chunks(session, keys=keys)
    assert [(chunk.job_id, chunk.index, chunk.attempts) for chunk in pending] == [(running, 2, 0)]


def test_stalled_chunks_are_those_of_quiet_running_jobs(store: Store) -> None:
    quiet, busy = make_job(store, chunks=2), make_job(store, chunks=2)
    with store.writer() as session:
        recording.record_chunk(session, job_id=busy, index=0, partial=1, worker="w")
    with store.reader() as session:
        assert recovery.stalled_chunks(session, quiet_s=60) == []
        stalled = recovery.stalled_chunks(session, quiet_s=0)
    assert {(chunk.job_id, chunk.index) for chunk in stalled} == {
        (quiet, 0),
        (quiet, 1),
        (busy, 1),
    }


def test_a_chunk_counts_its_starts(store: Store) -> None:
    job_id = make_job(store)
    for _ in range(2):
        with store.writer() as session:
            recording.start_chunk(session, job_id=job_id, index=3, max_attempts=5)
    with store.reader() as session:
        assert recovery.chunk_attempts(session, job_id=job_id, index=3) == 2
        assert recovery.chunk_attempts(session, job_id=job_id, index=0) == 0
        assert recovery.chunk_attempts(session, job_id=job_id, index=4) is None
