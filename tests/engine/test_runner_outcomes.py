"""What the runner does with each delivered chunk: records it (and the last one finishes
the job), skips what is no longer owed without computing it, fails the job of a chunk
past its time limit, takes cached pieces instead of computing them again, and hands a
chunk of a kind it did not load to a worker that did.

Real SQLite store; the probe kinds of tests/engine/probe_kinds.py."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery

from chunkwise.engine import ChunkRunner, cancel_job
from chunkwise.engine.runner import ChunkOutcome
from chunkwise.errors import KindElsewhereError
from chunkwise.store import Job, Store, jobs, recovery, workers
from chunkwise.workloads import registry
from tests.engine.probe_kinds import ProbeKinds, store_job


def stored(store: Store, job_id: uuid.UUID) -> Job:
    with store.reader() as session:
        job = jobs.get_job(session, job_id=job_id)
    assert job is not None
    return job


def run(runner: ChunkRunner, job_id: uuid.UUID, index: int) -> ChunkOutcome:
    return runner.run(job_id=job_id, index=index, worker="test-worker")


def test_each_chunk_is_recorded_and_the_last_finishes_the_job(
    store: Store, probe_kinds: ProbeKinds
) -> None:
    job_id = store_job(store, "scripted", {}, chunks=3)
    runner = ChunkRunner(store, {})

    assert run(runner, job_id, 2) is ChunkOutcome.RECORDED
    assert run(runner, job_id, 0) is ChunkOutcome.RECORDED
    midway = stored(store, job_id)
    assert (midway.state, midway.completed_chunks, midway.result) == ("PROGRESS", 2, None)
    assert run(runner, job_id, 1) is ChunkOutcome.RECORDED

    done = stored(store, job_id)
    assert (done.state, done.completed_chunks, done.error) == ("SUCCESS", 3, None)
    assert done.result is not None and done.result["total"] == 1 + 2 + 3
    assert done.result["duration_sec"] >= 0
    assert done.finished_at is not None and done.started_at is not None
    assert probe_kinds.scripted.computed == [2, 0, 1]


def test_a_chunk_delivered_again_after_it_was_recorded_is_skipped(
    store: Store, probe_kinds: ProbeKinds
) -> None:
    job_id = store_job(store, "scripted", {}, chunks=2)
    runner = ChunkRunner(store, {})
    run(runner, job_id, 0)

    assert run(runner, job_id, 0) is ChunkOutcome.SKIPPED

    assert stored(store, job_id).completed_chunks == 1
    assert probe_kinds.scripted.computed == [0]


def test_a_chunk_of_a_cancelled_job_is_skipped_without_computing(
    store: Store, memory_celery: Celery, probe_kinds: ProbeKinds
) -> None:
    job_id = store_job(store, "scripted", {}, chunks=2)
    cancel_job(store, memory_celery, job_id=job_id)

    assert run(ChunkRunner(store, {}), job_id, 0) is ChunkOutcome.SKIPPED

    assert stored(store, job_id).state == "CANCELLED"
    assert probe_kinds.scripted.computed == []


def test_a_chunk_of_a_job_that_is_gone_is_skipped(store: Store) -> None:
    assert run(ChunkRunner(store, {}), uuid.uuid4(), 0) is ChunkOutcome.SKIPPED


def test_once_a_chunk_fails_its_job_the_others_are_skipped(
    store: Store, probe_kinds: ProbeKinds
) -> None:
    job_id = store_job(store, "scripted", {"does": "lose_connection"}, chunks=2)
    runner = ChunkRunner(store, {}, max_attempts=1)

    assert run(runner, job_id, 0) is ChunkOutcome.FAILED_JOB
    assert run(runner, job_id, 1) is ChunkOutcome.SKIPPED

    failed = stored(store, job_id)
    assert failed.state == "FAILURE"
    assert failed.error == "chunk 0 failed 1 times; last: ConnectionError: peer went away"
    assert probe_kinds.scripted.computed == [0]


def test_a_chunk_past_its_soft_time_limit_fails_its_job(
    store: Store, probe_kinds: ProbeKinds
) -> None:
    job_id = store_job(store, "scripted", {"does": "run_out_of_time"}, chunks=2)

    outcome = run(ChunkRunner(store, {}, time_limit_s=2.5), job_id, 1)

    assert outcome is ChunkOutcome.FAILED_JOB
    failed = stored(store, job_id)
    assert failed.state == "FAILURE"
    assert failed.error == "chunk 1 exceeded its time limit of 2.5 s"
    assert failed.result is None


def test_pieces_computed_by_one_job_are_taken_from_the_cache_by_the_next(
    store: Store, probe_kinds: ProbeKinds
) -> None:
    runner = ChunkRunner(store, {})
    first = store_job(store, "pieced", {"blocks": [1, 2, 3, 4]}, chunks=2)
    for index in range(2):
        run(runner, first, index)
    assert probe_kinds.pieced.computed == [1, 2, 3, 4]

    second = store_job(store, "pieced", {"blocks": [3, 4, 5]}, chunks=3)
    for index in range(3):
        run(runner, second, index)

    assert probe_kinds.pieced.computed == [1, 2, 3, 4, 5]  # only block 5 was new
    done = stored(store, second)
    assert done.result is not None and done.result["total"] == 9 + 16 + 25
    assert (done.completed_chunks, done.cached_chunks) == (3, 2)


def test_a_job_without_the_cache_computes_every_piece(
    store: Store, probe_kinds: ProbeKinds
) -> None:
    runner = ChunkRunner(store, {})
    warm = store_job(store, "pieced", {"blocks": [1, 2]}, chunks=1)
    run(runner, warm, 0)

    uncached = store_job(store, "pieced", {"blocks": [1, 2]}, chunks=1, use_cache=False)
    run(runner, uncached, 0)

    assert probe_kinds.pieced.computed == [1, 2, 1, 2]
    done = stored(store, uncached)
    assert done.result is not None and done.result["total"] == 5
    assert done.cached_chunks == 0


def test_a_worker_without_the_cache_computes_every_piece(
    store: Store, probe_kinds: ProbeKinds
) -> None:
    run(ChunkRunner(store, {}), store_job(store, "pieced", {"blocks": [1, 2]}, chunks=1), 0)

    job_id = store_job(store, "pieced", {"blocks": [1, 2]}, chunks=1)
    run(ChunkRunner(store, {}, use_cache=False), job_id, 0)

    assert probe_kinds.pieced.computed == [1, 2, 1, 2]
    assert stored(store, job_id).cached_chunks == 0


def attempts_of(store: Store, job_id: uuid.UUID, index: int) -> int | None:
    with store.reader() as session:
        return recovery.chunk_attempts(session, job_id=job_id, index=index)


def test_a_chunk_of_a_kind_not_loaded_here_goes_back_for_a_worker_that_runs_it(
    store: Store, probe_kinds: ProbeKinds, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = store_job(store, "scripted", {}, chunks=2)
    with store.writer() as session:
        workers.heartbeat(session, name="has-it", kinds=["scripted", "sum_range"])
    monkeypatch.delitem(registry._WORKLOADS, "scripted")  # this worker lacks the package

    with pytest.raises(KindElsewhereError, match="'scripted' is not loaded on this worker"):
        run(ChunkRunner(store, {}), job_id, 1)

    assert attempts_of(store, job_id, 1) == 0  # the start was given back
    waiting = stored(store, job_id)
    assert (waiting.state, waiting.completed_chunks, waiting.error) == ("PENDING", 0, None)


def test_a_chunk_of_a_kind_no_live_worker_runs_fails_its_job(
    store: Store, probe_kinds: ProbeKinds, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = store_job(store, "scripted", {}, chunks=2)
    with store.writer() as session:
        workers.heartbeat(session, name="built-ins-only", kinds=["sum_range"])
    monkeypatch.delitem(registry._WORKLOADS, "scripted")

    assert run(ChunkRunner(store, {}), job_id, 0) is ChunkOutcome.FAILED_JOB

    failed = stored(store, job_id)
    assert failed.state == "FAILURE"
    assert failed.error == (
        "chunk 0 could not be run: no live worker runs kind 'scripted' "
        "(install its package on the workers)"
    )
