"""The chunk task and its request, in this process: a chunk that lost a connection is
retried until its starts are used up, a store outage puts the message back on the queue,
a chunk of a kind this worker did not load goes back for one that did,
and the failures Celery sees outside the task (a pool process lost, the hard time limit)
end the job once they must, acknowledging the message instead of requeueing it forever.

The task runs eagerly (`apply`); requests are built from Celery's own test messages, and
their acknowledgements and rejections recorded. Real SQLite store."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from billiard.einfo import ExceptionInfo
from billiard.exceptions import WorkerLostError
from celery import Celery, Task
from celery.contrib.testing.mocks import TaskMessage
from celery.exceptions import Retry, TimeLimitExceeded

from chunkwise.engine import ChunkRunner
from chunkwise.engine.celery_app import RUN_CHUNK_TASK, chunk_task_id
from chunkwise.engine.tasks import MAX_RETRY_DELAY_S, ChunkRequest, register_tasks, retry_delay_s
from chunkwise.errors import KindElsewhereError, StoreUnavailableError, TransientChunkError
from chunkwise.store import Job, Store, jobs, workers
from chunkwise.workloads import registry
from tests.engine.probe_kinds import ProbeKinds, store_job

MAX_ATTEMPTS = 3


@dataclass
class Delivery:
    """What a worker did with a chunk's message."""

    acked: int = 0
    rejected: list[bool] = field(default_factory=list)
    """`requeue` of each rejection."""


@dataclass
class TaskBench:
    app: Celery
    task: Task
    runner: ChunkRunner
    revoked: list[list[str]]

    def request(self, job_id: uuid.UUID, index: int, delivery: Delivery) -> ChunkRequest:
        """The request a worker would build on receiving chunk `index` of `job_id`."""
        message = TaskMessage(
            RUN_CHUNK_TASK, id=chunk_task_id(job_id, index), args=(str(job_id), index)
        )

        def ack(*_: Any) -> None:
            delivery.acked += 1

        def reject(logger: Any, errors: Any, requeue: bool) -> None:
            delivery.rejected.append(requeue)

        return ChunkRequest(message, app=self.app, task=self.task, on_ack=ack, on_reject=reject)


@pytest.fixture
def bench(store: Store, memory_celery: Celery, monkeypatch: pytest.MonkeyPatch) -> TaskBench:
    runner = ChunkRunner(store, {}, max_attempts=MAX_ATTEMPTS, store_outage_s=0)
    task = register_tasks(memory_celery, runner, retry_backoff_s=0.5, hard_time_limit_s=None)
    revoked: list[list[str]] = []
    monkeypatch.setattr(memory_celery.control, "revoke", lambda ids, **_: revoked.append(ids))
    return TaskBench(memory_celery, task, runner, revoked)


def stored(store: Store, job_id: uuid.UUID) -> Job:
    with store.reader() as session:
        job = jobs.get_job(session, job_id=job_id)
    assert job is not None
    return job


def failure_of(raise_it: Callable[[], None]) -> ExceptionInfo:
    """The exception info Celery hands `on_failure`."""
    try:
        raise_it()
    except BaseException:
        return ExceptionInfo()
    raise AssertionError("nothing was raised")


def start_without_recording(store: Store, job_id: uuid.UUID, index: int, times: int) -> None:
    """Count `times` starts of a chunk of a job whose chunks lose their connection."""
    starter = ChunkRunner(store, {}, max_attempts=times + 1)
    for _ in range(times):
        with pytest.raises(TransientChunkError):
            starter.run(job_id=job_id, index=index, worker="lost")


def test_a_delivered_chunk_is_computed_and_recorded(
    store: Store, bench: TaskBench, probe_kinds: ProbeKinds
) -> None:
    job_id = store_job(store, "scripted", {}, chunks=1)

    result = bench.task.apply(args=(str(job_id), 0), task_id=chunk_task_id(job_id, 0))

    assert result.state == "SUCCESS"
    job = stored(store, job_id)
    assert job.state == "SUCCESS" and job.result is not None and job.result["total"] == 1
    assert bench.revoked == []


def test_a_lost_connection_is_retried_until_the_attempts_are_used_then_the_rest_revoked(
    store: Store, bench: TaskBench, probe_kinds: ProbeKinds
) -> None:
    job_id = store_job(store, "scripted", {"does": "lose_connection"}, chunks=2)

    bench.task.apply(args=(str(job_id), 0), task_id=chunk_task_id(job_id, 0))

    assert probe_kinds.scripted.computed == [0] * MAX_ATTEMPTS
    job = stored(store, job_id)
    assert job.state == "FAILURE"
    assert job.error == (
        f"chunk 0 failed {MAX_ATTEMPTS} times; last: ConnectionError: peer went away"
    )
    assert bench.revoked == [[chunk_task_id(job_id, 0), chunk_task_id(job_id, 1)]]


def test_a_store_outage_puts_the_chunk_back_on_the_queue(
    store: Store, bench: TaskBench, probe_kinds: ProbeKinds
) -> None:
    job_id = store_job(store, "scripted", {}, chunks=1)

    def store_down() -> None:
        raise StoreUnavailableError("connection refused")

    with pytest.MonkeyPatch.context() as outage:
        outage.setattr(store, "writer", store_down)
        outage.setattr(store, "write_connection", store_down)
        result = bench.task.apply(args=(str(job_id), 0), task_id=chunk_task_id(job_id, 0))

    assert result.state == "REJECTED"
    assert result.result.requeue is True
    assert probe_kinds.scripted.computed == []
    assert stored(store, job_id).state == "PENDING"


def test_a_chunk_of_a_kind_not_loaded_here_is_published_again_after_the_first_delay(
    store: Store, bench: TaskBench, probe_kinds: ProbeKinds, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = store_job(store, "scripted", {}, chunks=1)
    with store.writer() as session:
        workers.heartbeat(session, name="has-it", kinds=["scripted"])
    monkeypatch.delitem(registry._WORKLOADS, "scripted")
    asked: list[dict[str, Any]] = []

    def retry(**options: Any) -> Retry:  # what Celery's would publish, recorded instead
        asked.append(options)
        return Retry("handed back")

    monkeypatch.setattr(bench.task, "retry", retry)
    result = bench.task.apply(args=(str(job_id), 0), task_id=chunk_task_id(job_id, 0))

    assert result.state == "RETRY"
    assert [options["countdown"] for options in asked] == [0.5]
    assert isinstance(asked[0]["exc"], KindElsewhereError)
    assert stored(store, job_id).state == "PENDING"


def test_a_lost_process_with_attempts_left_is_requeued_and_its_job_runs_on(
    store: Store, bench: TaskBench, probe_kinds: ProbeKinds
) -> None:
    job_id = store_job(store, "scripted", {"does": "lose_connection"}, chunks=2)
    start_without_recording(store, job_id, 0, times=MAX_ATTEMPTS - 1)
    delivery = Delivery()

    bench.request(job_id, 0, delivery).on_failure(failure_of(lambda: _lose_process()))

    assert (delivery.acked, delivery.rejected) == (0, [True])
    assert stored(store, job_id).state == "PENDING"  # started, nothing recorded yet
    assert bench.revoked == []


def test_a_chunk_that_lost_its_process_on_every_start_fails_its_job(
    store: Store, bench: TaskBench, probe_kinds: ProbeKinds
) -> None:
    job_id = store_job(store, "scripted", {"does": "lose_connection"}, chunks=2)
    start_without_recording(store, job_id, 0, times=MAX_ATTEMPTS)
    delivery = Delivery()

    bench.request(job_id, 0, delivery).on_failure(failure_of(lambda: _lose_process()))

    assert (delivery.acked, delivery.rejected) == (1, [])
    job = stored(store, job_id)
    assert job.state == "FAILURE"
    assert job.error == (
        f"chunk 0 was started {MAX_ATTEMPTS} times and never recorded; "
        "its worker process died or lost its lease each time"
    )
    assert bench.revoked == [[chunk_task_id(job_id, 0), chunk_task_id(job_id, 1)]]


def test_a_chunk_past_its_hard_time_limit_fails_its_job(
    store: Store, bench: TaskBench, probe_kinds: ProbeKinds
) -> None:
    job_id = store_job(store, "scripted", {}, chunks=2)
    bench.task.apply(args=(str(job_id), 0), task_id=chunk_task_id(job_id, 0))
    delivery = Delivery()

    bench.request(job_id, 1, delivery).on_failure(failure_of(lambda: _exceed_hard_limit()))

    assert (delivery.acked, delivery.rejected) == (1, [])
    job = stored(store, job_id)
    assert job.state == "FAILURE" and job.completed_chunks == 1
    assert job.error == "chunk 1 exceeded its hard time limit and its process was killed"
    assert bench.revoked == [[chunk_task_id(job_id, 1)]]


def test_the_retry_delay_doubles_up_to_a_minute() -> None:
    assert [retry_delay_s(0.5, retries) for retries in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert retry_delay_s(0.5, 20) == MAX_RETRY_DELAY_S == 60.0


def _lose_process() -> None:
    raise WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL).")


def _exceed_hard_limit() -> None:
    raise TimeLimitExceeded(120.0)
