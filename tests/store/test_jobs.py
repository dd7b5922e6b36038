"""The job store's contract, identical on every backend."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from chunkwise.store import JobState, Store, jobs
from chunkwise.store import workers as worker_rows


def make_job(store: Store, chunks: int = 4) -> uuid.UUID:
    with store.writer() as session:
        job = jobs.create_job(
            session,
            kind="sum_range",
            params={"n": 100},
            specs=[{"lo": i, "hi": i} for i in range(chunks)],
        )
        return job.id


def test_a_new_job_is_pending_with_its_chunks(store: Store) -> None:
    job_id = make_job(store, chunks=3)
    with store.reader() as session:
        job = jobs.get_job(session, job_id)
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


def test_recording_a_chunk_twice_counts_it_once(store: Store) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        first = jobs.record_chunk(session, job_id=job_id, index=1, partial=7, worker="a")
    with store.writer() as session:
        again = jobs.record_chunk(session, job_id=job_id, index=1, partial=99, worker="b")
    assert first.recorded and (first.completed, first.total) == (1, 4)
    assert first.job_state == JobState.PROGRESS
    assert not again.recorded and again.completed == 1
    with store.reader() as session:
        chunk = jobs.list_chunks(session, job_id=job_id)[1]
    assert (chunk.partial, chunk.worker) == (7, "a")


def test_starting_a_chunk_counts_it_reads_its_spec_and_starts_the_job(store: Store) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        start = jobs.start_chunk(session, job_id=job_id, index=1, max_attempts=5)
    assert start is not None and start.counted and not start.recorded
    assert (start.job.kind, start.spec, start.attempts) == ("sum_range", {"lo": 1, "hi": 1}, 1)
    with store.reader() as session:
        job = jobs.get_job(session, job_id)
        assert jobs.chunk_attempts(session, job_id=job_id, index=1) == 1
        assert jobs.chunk_attempts(session, job_id=job_id, index=0) == 0
    assert job is not None and job.state == JobState.STARTED and job.started_at is not None


def test_a_chunk_is_started_at_most_max_attempts_times(store: Store) -> None:
    job_id = make_job(store)
    starts = []
    for _ in range(4):
        with store.writer() as session:
            starts.append(jobs.start_chunk(session, job_id=job_id, index=0, max_attempts=3))
    assert [(s.counted, s.attempts) for s in starts if s is not None] == [
        (True, 1),
        (True, 2),
        (True, 3),
        (False, 3),
    ]


def test_a_recorded_chunk_is_not_counted_again(store: Store) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        jobs.record_chunk(session, job_id=job_id, index=0, partial=1, worker="w")
        start = jobs.start_chunk(session, job_id=job_id, index=0, max_attempts=3)
        missing = jobs.start_chunk(session, job_id=job_id, index=99, max_attempts=3)
    assert start is not None and start.recorded and not start.counted and start.attempts == 0
    assert missing is None


def test_concurrent_recordings_complete_the_job_exactly_once(store: Store) -> None:
    chunks = 24
    job_id = make_job(store, chunks=chunks)
    finishers: list[int] = []
    lock = threading.Lock()

    def record(index: int) -> None:
        with store.writer() as session:
            outcome = jobs.record_chunk(
                session, job_id=job_id, index=index % chunks, partial=index, worker="w"
            )
            if outcome.recorded and outcome.all_done:
                with lock:
                    finishers.append(index)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(record, range(chunks * 2)))  # every chunk delivered twice

    with store.reader() as session:
        job = jobs.get_job(session, job_id)
        partials = jobs.chunk_partials(session, job_id=job_id)
    assert job is not None and job.completed_chunks == chunks
    assert len(finishers) == 1
    assert all(partial is not None for partial in partials)


def test_a_job_ends_once(store: Store) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        assert jobs.finish_job(session, job_id=job_id, result={"sum": 1})
    with store.writer() as session:
        assert not jobs.fail_job(session, job_id=job_id, error="late failure")
        late = jobs.record_chunk(session, job_id=job_id, index=0, partial=1, worker="w")
    with store.reader() as session:
        job = jobs.get_job(session, job_id)
    assert job is not None
    assert (job.state, job.result, job.error) == (JobState.SUCCESS, {"sum": 1}, None)
    assert job.finished_at is not None and job.started_at is not None
    assert not late.recorded and late.job_state == JobState.SUCCESS


def test_a_failed_job_keeps_its_error(store: Store) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        assert jobs.fail_job(session, job_id=job_id, error="chunk 2 failed: ValueError: bad")
    with store.reader() as session:
        job = jobs.get_job(session, job_id)
    assert job is not None and job.state == JobState.FAILURE
    assert job.error == "chunk 2 failed: ValueError: bad"


def test_huge_integers_survive_the_round_trip(store: Store) -> None:
    job_id = make_job(store, chunks=1)
    huge = 10**40 + 7
    with store.writer() as session:
        jobs.record_chunk(session, job_id=job_id, index=0, partial=huge, worker="w")
        jobs.finish_job(session, job_id=job_id, result={"sum": huge})
    with store.reader() as session:
        job = jobs.get_job(session, job_id)
        partials = jobs.chunk_partials(session, job_id=job_id)
    assert job is not None and job.result == {"sum": huge}
    assert partials == [huge]


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
        assert jobs.get_job(session, job_id) is None
        assert jobs.list_chunks(session, job_id=job_id) == []


def test_workers_are_live_while_they_heartbeat(store: Store) -> None:
    with store.writer() as session:
        worker_rows.heartbeat(session, name="w1@host")
        worker_rows.heartbeat(session, name="w2@host")
    with store.writer() as session:
        worker_rows.heartbeat(session, name="w1@host")
    with store.reader() as session:
        assert worker_rows.live_workers(session, ttl_s=60) == ["w1@host", "w2@host"]
        assert worker_rows.live_capacity(session, ttl_s=60) == (2, 2)
        assert worker_rows.live_capacity(session, ttl_s=0) == (0, 0)
    with store.writer() as session:
        worker_rows.remove_worker(session, name="w2@host")
    with store.reader() as session:
        assert worker_rows.live_workers(session, ttl_s=60) == ["w1@host"]


def test_cancel_moves_only_a_running_job(store: Store) -> None:
    running, finished = make_job(store), make_job(store)
    with store.writer() as session:
        jobs.record_chunk(session, job_id=running, index=0, partial=1, worker="w")
        jobs.finish_job(session, job_id=finished, result={"sum": 1})
    with store.writer() as session:
        assert jobs.cancel_job(session, job_id=running)
    with store.writer() as session:
        assert not jobs.cancel_job(session, job_id=running)
        assert not jobs.cancel_job(session, job_id=finished)
        assert not jobs.cancel_job(session, job_id=uuid.uuid4())
    with store.reader() as session:
        job, done = jobs.get_job(session, running), jobs.get_job(session, finished)
    assert job is not None and job.state == JobState.CANCELLED
    assert job.finished_at is not None and job.result is None
    assert done is not None and done.state == JobState.SUCCESS


def test_a_chunk_finishing_after_cancel_is_not_kept(store: Store) -> None:
    job_id = make_job(store)
    with store.writer() as session:
        jobs.record_chunk(session, job_id=job_id, index=0, partial=1, worker="w")
        assert jobs.cancel_job(session, job_id=job_id)
    with store.writer() as session:
        late = jobs.record_chunk(session, job_id=job_id, index=1, partial=2, worker="w")
        assert not jobs.fail_job(session, job_id=job_id, error="too late")
    assert not late.recorded and late.job_state == JobState.CANCELLED
    assert (late.completed, late.total) == (1, 4)
    with store.reader() as session:
        job = jobs.get_job(session, job_id)
        partials = jobs.chunk_partials(session, job_id=job_id)
    assert job is not None and job.state == JobState.CANCELLED and job.error is None
    assert partials == [1, None, None, None]


def test_a_silent_worker_is_claimed_once_with_what_it_held(store: Store) -> None:
    with store.writer() as session:
        worker_rows.heartbeat(session, name="gone@host", holding=["a:1", "a:2"])
        worker_rows.heartbeat(session, name="alive@host", holding=["b:0"])
    with store.writer() as session:
        assert worker_rows.claim_dead_workers(session, ttl_s=60) == []
    with store.writer() as session:
        dead = worker_rows.claim_dead_workers(session, ttl_s=0)
    assert sorted((w.name, w.holding) for w in dead) == [
        ("alive@host", ["b:0"]),
        ("gone@host", ["a:1", "a:2"]),
    ]
    with store.writer() as session:
        assert worker_rows.claim_dead_workers(session, ttl_s=0) == []


def test_unrecorded_chunks_of_running_jobs_are_pending(store: Store) -> None:
    running, ended = make_job(store, chunks=3), make_job(store, chunks=2)
    with store.writer() as session:
        jobs.record_chunk(session, job_id=running, index=0, partial=1, worker="w")
        jobs.cancel_job(session, job_id=ended)
    keys = [(running, 0), (running, 2), (ended, 1)]
    with store.reader() as session:
        pending = jobs.unrecorded_chunks(session, keys=keys)
    assert [(chunk.job_id, chunk.index, chunk.attempts) for chunk in pending] == [(running, 2, 0)]


def test_stalled_chunks_are_those_of_quiet_running_jobs(store: Store) -> None:
    quiet, busy = make_job(store, chunks=2), make_job(store, chunks=2)
    with store.writer() as session:
        jobs.record_chunk(session, job_id=busy, index=0, partial=1, worker="w")
    with store.reader() as session:
        assert jobs.stalled_chunks(session, quiet_s=60) == []
        stalled = jobs.stalled_chunks(session, quiet_s=0)
    assert {(chunk.job_id, chunk.index) for chunk in stalled} == {
        (quiet, 0),
        (quiet, 1),
        (busy, 1),
    }
