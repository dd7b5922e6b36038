"""Starting and recording chunks: each start counted up to the bound, each partial kept and
counted once, nothing kept for an ended job; on every backend."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from chunkwise.store import JobState, Store, jobs, recording, results
from tests.store.sample_jobs import make_job


def test_recording_a_chunk_twice_counts_it_once(store: Store) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        first = recording.record_chunk(session, job_id=job_id, index=1, partial=7, worker="a")
    with store.writer() as session:
        again = recording.record_chunk(session, job_id=job_id, index=1, partial=99, worker="b")
    assert first.recorded and (first.completed, first.total) == (1, 4)
    assert first.job_state == JobState.PROGRESS
    assert not again.recorded and again.completed == 1
    with store.reader() as session:
        chunk = jobs.list_chunks(session, job_id=job_id)[1]
    assert (chunk.partial, chunk.worker) == (7, "a")


def test_starting_a_chunk_counts_it_and_reads_its_spec_without_writing_its_job(
    store: Store,
) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        start = recording.start_chunk(session, job_id=job_id, index=1, max_attempts=5)
    assert start is not None and start.counted and not start.recorded
    assert (start.job.kind, start.spec, start.attempts) == ("sum_range", {"lo": 1, "hi": 1}, 1)
    assert type(start.job.state) is JobState
    with store.reader() as session:
        job = jobs.get_job(session, job_id=job_id)
    assert job is not None and job.state == JobState.PENDING and job.started_at is None


def test_the_first_recorded_chunk_moves_the_job_to_progress(store: Store) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        recording.start_chunk(session, job_id=job_id, index=2, max_attempts=5)
        recording.record_chunk(session, job_id=job_id, index=2, partial=3, worker="w")
    with store.reader() as session:
        job = jobs.get_job(session, job_id=job_id)
    assert job is not None and job.state == JobState.PROGRESS and job.started_at is not None


def test_a_chunk_is_started_at_most_max_attempts_times(store: Store) -> None:
    job_id = make_job(store)
    starts = []
    for _ in range(4):
        with store.writer() as session:
            starts.append(recording.start_chunk(session, job_id=job_id, index=0, max_attempts=3))
    assert [(s.counted, s.attempts) for s in starts if s is not None] == [
        (True, 1),
        (True, 2),
        (True, 3),
        (False, 3),
    ]


def test_a_recorded_chunk_is_not_counted_again(store: Store) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        recording.record_chunk(session, job_id=job_id, index=0, partial=1, worker="w")
        start = recording.start_chunk(session, job_id=job_id, index=0, max_attempts=3)
        missing = recording.start_chunk(session, job_id=job_id, index=99, max_attempts=3)
    assert start is not None and start.recorded and not start.counted and start.attempts == 0
    assert missing is None


def test_concurrent_recordings_complete_the_job_exactly_once(store: Store) -> None:
    chunks = 24
    job_id = make_job(store, chunks=chunks)
    finishers: list[int] = []
    lock = threading.Lock()

    def record(index: int) -> None:
        with store.writer() as session:
            outcome = recording.record_chunk(
                session, job_id=job_id, index=index % chunks, partial=index, worker="w"
            )
            if outcome.recorded and outcome.all_done:
                with lock:
                    finishers.append(index)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(record, range(chunks * 2)))  # every chunk delivered twice

    with store.reader() as session:
        job = jobs.get_job(session, job_id=job_id)
        partials = results.chunk_partials(session, job_id=job_id)
    assert job is not None and job.completed_chunks == chunks
    assert len(finishers) == 1
    assert all(partial is not None for partial in partials)


def test_huge_integers_survive_the_round_trip(store: Store) -> None:
    job_id = make_job(store, chunks=1)
    huge = 10**40 + 7
    with store.writer() as session:
        recording.record_chunk(session, job_id=job_id, index=0, partial=huge, worker="w")
        jobs.finish_job(session, job_id=job_id, result={"sum": huge})
    with store.reader() as session:
        job = jobs.get_job(session, job_id=job_id)
        partials = results.chunk_partials(session, job_id=job_id)
    assert job is not None and job.result == {"sum": huge}
    assert partials == [huge]


def test_a_chunk_finishing_after_cancel_is_not_kept(store: Store) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        recording.record_chunk(session, job_id=job_id, index=0, partial=1, worker="w")
        assert jobs.cancel_job(session, job_id=job_id)
    with store.writer() as session:
        late = recording.record_chunk(session, job_id=job_id, index=1, partial=2, worker="w")
        assert not jobs.fail_job(session, job_id=job_id, error="too late")
    assert not late.recorded and late.job_state == JobState.CANCELLED
    assert (late.completed, late.total) == (1, 4)
    with store.reader() as session:
        job = jobs.get_job(session, job_id=job_id)
        partials = results.chunk_partials(session, job_id=job_id)
    assert job is not None and job.state == JobState.CANCELLED and job.error is None
    assert partials == [1, None, None, None]
