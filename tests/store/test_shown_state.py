"""The state a job is shown in, read on every backend: PENDING with a chunk started reads
STARTED (filters, counts, live progress, the first start), and nothing is written for it."""

from __future__ import annotations

import uuid

from chunkwise.store import JobState, Store, jobs, recording
from chunkwise.store.inspection import job_stats
from chunkwise.store.progress import first_starts, jobs_progress
from tests.store.sample_jobs import make_job


def start(store: Store, job_id: uuid.UUID, index: int) -> None:
    with store.write_connection() as connection:
        recording.start_chunk(connection, job_id=job_id, index=index, max_attempts=5, worker="w")


def test_a_started_chunk_makes_its_pending_job_read_started(store: Store) -> None:
    waiting, started, recorded = (make_job(store, chunks=3) for _ in range(3))
    start(store, started, 1)
    start(store, started, 2)
    start(store, recorded, 0)
    with store.write_connection() as connection:
        recording.record_chunk(connection, job_id=recorded, index=0, partial=1, worker="w")

    with store.reader() as session:
        shown = jobs_progress(session, job_ids=[waiting, started, recorded])
        assert {job_id: p.state for job_id, p in shown.items()} == {
            waiting: JobState.PENDING,
            started: JobState.STARTED,
            recorded: JobState.PROGRESS,
        }
        firsts = first_starts(session, job_ids=[waiting, started, recorded])
        assert set(firsts) == {started}
        row = jobs.get_job(session, job_id=started)
        assert row is not None and row.state is JobState.PENDING  # nothing was written
        assert job_stats(session).by_state == {"PENDING": 1, "STARTED": 1, "PROGRESS": 1}

        def listed(*states: JobState) -> set[uuid.UUID]:
            return {job.id for job in jobs.list_jobs(session, limit=10, offset=0, states=states)}

        assert listed(JobState.STARTED) == {started}
        assert listed(JobState.PENDING) == {waiting}
        assert listed(JobState.STARTED, JobState.PROGRESS) == {started, recorded}
        assert listed(JobState.PENDING, JobState.STARTED) == {waiting, started}
        assert jobs.count_jobs(session, states=[JobState.STARTED]) == 1
