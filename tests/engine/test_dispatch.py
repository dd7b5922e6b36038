"""Submitting and cancelling jobs: a job is stored before its chunks are published, one
message per chunk that names the chunk and nothing else; a broker that refuses leaves no
job behind; a cancel ends the job in the store and revokes what is left of it.

Real SQLite store; Celery on kombu's in-memory transport, with revokes recorded."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from celery import Celery
from kombu.exceptions import OperationalError as KombuOperationalError

from chunkwise.config import Settings
from chunkwise.engine import ChunkRunner, cancel_job, submit_job, validate_job
from chunkwise.engine import dispatch as dispatch_module
from chunkwise.engine.celery_app import (
    AMQP_MAX_PRIORITY,
    ORDINARY_PRIORITY,
    RUN_CHUNK_TASK,
    URGENT_PRIORITY,
    chunk_priority,
    chunk_task_id,
    create_celery,
    parse_chunk_task_id,
)
from chunkwise.errors import (
    BrokerUnavailableError,
    InvalidJobError,
    JobConflictError,
    JobNotFoundError,
)
from chunkwise.store import Job, Store, jobs
from tests.memory_broker import Published, take_published


def stored(store: Store, job_id: uuid.UUID) -> Job | None:
    with store.reader() as session:
        return jobs.get_job(session, job_id=job_id)


def job_count(store: Store) -> int:
    with store.reader() as session:
        return jobs.count_jobs(session)


def submit_sum(store: Store, app: Celery, *, n: int = 10, chunks: int = 3) -> Job:
    return submit_job(store, app, kind="sum_range", params={"n": n}, chunks=chunks, limits={})


@pytest.fixture
def revoked(memory_celery: Celery, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The task ids of each revoke the app sends, in order (none is broadcast)."""
    calls: list[list[str]] = []

    def record(task_ids: list[str], **options: Any) -> None:
        assert options == {"terminate": False, "signal": "SIGTERM"}
        calls.append(list(task_ids))

    monkeypatch.setattr(memory_celery.control, "revoke", record)
    return calls


def test_a_job_is_stored_pending_and_each_chunk_published_once(
    store: Store, memory_celery: Celery
) -> None:
    job = submit_sum(store, memory_celery, n=10, chunks=3)

    found = stored(store, job.id)
    assert found is not None and found.state == "PENDING"
    assert (found.total_chunks, found.completed_chunks) == (3, 0)
    assert found.params == {"a": 1, "n": 10}
    assert take_published(memory_celery) == [
        Published(RUN_CHUNK_TASK, f"{job.id}:{index}", job.id, index) for index in range(3)
    ]


def test_the_published_chunks_compute_the_job(store: Store, memory_celery: Celery) -> None:
    job = submit_sum(store, memory_celery, n=100, chunks=4)
    runner = ChunkRunner(store, {})

    for message in take_published(memory_celery):
        runner.run(job_id=message.job_id, index=message.index, worker="test")

    found = stored(store, job.id)
    assert found is not None and found.state == "SUCCESS"
    assert found.result is not None and found.result["sum"] == 5050


def test_a_job_stores_its_completed_parameters(store: Store, memory_celery: Celery) -> None:
    params = {"amount": 100.0, "rate": 0.05, "paths": 10}
    job = submit_job(store, memory_celery, kind="monte_carlo", params=params, chunks=1, limits={})

    found = stored(store, job.id)
    assert found is not None
    seed = found.params["seed"]
    assert isinstance(seed, int) and seed >= 0  # drawn once, so the job can be repeated
    _, again = validate_job("monte_carlo", {**params, "seed": seed}, {})
    assert again == found.params


@pytest.mark.parametrize(
    ("kind", "params", "message", "field"),
    [
        ("no_such_kind", {"n": 1}, "kind: unknown kind 'no_such_kind'; known kinds: ", "kind"),
        ("sum_range", {"n": 0}, "params.n: Input should be greater than or equal to 1", "params.n"),
        ("sum_range", {}, "params.n: Field required", "params.n"),
        ("sum_range", {"n": 5, "x": 1}, "params.x: Extra inputs are not permitted", "params.x"),
    ],
)
def test_an_invalid_job_is_refused_before_anything_is_kept_or_sent(
    store: Store,
    memory_celery: Celery,
    kind: str,
    params: dict[str, Any],
    message: str,
    field: str,
) -> None:
    with pytest.raises(InvalidJobError) as refused:
        submit_job(store, memory_celery, kind=kind, params=params, chunks=2, limits={})

    assert str(refused.value).startswith(message)
    assert refused.value.field == field
    assert job_count(store) == 0
    assert take_published(memory_celery) == []


def test_a_broker_that_refuses_leaves_no_job_behind(
    store: Store, memory_celery: Celery, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(app: Celery, chunks: Any, **_: Any) -> None:
        raise KombuOperationalError("connection refused by redis://user:secret@host")

    monkeypatch.setattr(dispatch_module, "send_chunks", refuse)

    with pytest.raises(BrokerUnavailableError) as refused:
        submit_sum(store, memory_celery)

    assert "secret" not in str(refused.value)
    assert "try again shortly" in str(refused.value)
    assert job_count(store) == 0


def test_cancel_ends_the_job_and_revokes_its_unrecorded_chunks(
    store: Store, memory_celery: Celery, revoked: list[list[str]]
) -> None:
    job = submit_sum(store, memory_celery, chunks=3)
    ChunkRunner(store, {}).run(job_id=job.id, index=1, worker="test")

    cancelled = cancel_job(store, memory_celery, job_id=job.id)

    assert cancelled.state == "CANCELLED" and cancelled.completed_chunks == 1
    found = stored(store, job.id)
    assert found is not None and found.state == "CANCELLED" and found.result is None
    assert revoked == [[chunk_task_id(job.id, 0), chunk_task_id(job.id, 2)]]


def test_a_cancelled_jobs_late_chunks_change_nothing(store: Store, memory_celery: Celery) -> None:
    job = submit_sum(store, memory_celery, chunks=2)
    cancel_job(store, memory_celery, job_id=job.id)
    runner = ChunkRunner(store, {})

    for message in take_published(memory_celery):
        runner.run(job_id=message.job_id, index=message.index, worker="test")

    found = stored(store, job.id)
    assert found is not None
    assert (found.state, found.completed_chunks, found.result) == ("CANCELLED", 0, None)


def test_cancel_of_an_ended_job_is_a_conflict_and_of_no_job_not_found(
    store: Store, memory_celery: Celery, revoked: list[list[str]]
) -> None:
    job = submit_sum(store, memory_celery, chunks=1)
    ChunkRunner(store, {}).run(job_id=job.id, index=0, worker="test")

    with pytest.raises(JobConflictError, match="already ended in SUCCESS"):
        cancel_job(store, memory_celery, job_id=job.id)
    missing = uuid.uuid4()
    with pytest.raises(JobNotFoundError, match=f"no job with id {missing}"):
        cancel_job(store, memory_celery, job_id=missing)
    assert revoked == []


def test_a_cancel_stands_when_the_revoke_cannot_be_sent(
    store: Store, memory_celery: Celery, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = submit_sum(store, memory_celery, chunks=2)

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise KombuOperationalError("broker down")

    monkeypatch.setattr(memory_celery.control, "revoke", broker_down)

    assert cancel_job(store, memory_celery, job_id=job.id).state == "CANCELLED"


@pytest.mark.parametrize(
    ("broker_url", "ordinary", "urgent"),
    [
        ("redis://127.0.0.1:1/0", ORDINARY_PRIORITY, URGENT_PRIORITY),
        ("memory://", None, None),
    ],
)
def test_urgent_chunks_jump_the_queue_where_the_transport_orders_by_priority(
    broker_url: str, ordinary: int | None, urgent: int | None
) -> None:
    app = create_celery(Settings(broker_url=broker_url))
    assert chunk_priority(app, urgent=False) == ordinary
    assert chunk_priority(app, urgent=True) == urgent
    if ordinary is not None and urgent is not None:
        assert urgent < ordinary  # Redis pops the lowest number first


def test_a_chunk_task_id_names_its_chunk_and_nothing_else_parses() -> None:
    job_id = uuid.uuid4()
    assert parse_chunk_task_id(chunk_task_id(job_id, 7)) == (job_id, 7)
    assert parse_chunk_task_id("celery-internal-task") is None
    assert parse_chunk_task_id("not-a-uuid:3") is None
    assert parse_chunk_task_id(f"{job_id}:x") is None


def test_celery_needs_a_broker_url() -> None:
    with pytest.raises(ValueError, match="CHUNKWISE_BROKER_URL is not set"):
        create_celery(Settings(broker_url=""))


def test_a_jobs_priority_orders_its_chunks_but_never_ahead_of_taken_back_ones() -> None:
    app = Celery(broker="redis://127.0.0.1:1/0", set_as_current=False)
    order = [chunk_priority(app, urgent=True, level="high")]
    order += [chunk_priority(app, urgent=False, level=level) for level in ("high", "medium", "low")]
    numbers = [priority for priority in order if priority is not None]
    assert len(numbers) == 4 and numbers == sorted(set(numbers))  # Redis pops the lowest first
    memory = Celery(broker="memory://", set_as_current=False)
    assert chunk_priority(memory, urgent=False, level="high") is None


def test_rabbitmq_orders_the_same_chunks_the_same_way_with_its_numbers_reversed() -> None:
    app = Celery(broker="amqp://guest:guest@127.0.0.1:1//", set_as_current=False)
    order = [chunk_priority(app, urgent=True, level="high")]
    order += [chunk_priority(app, urgent=False, level=level) for level in ("high", "medium", "low")]
    numbers = [priority for priority in order if priority is not None]
    assert len(numbers) == 4 and numbers == sorted(set(numbers), reverse=True)
    assert max(numbers) <= AMQP_MAX_PRIORITY and min(numbers) >= 0


def test_the_rabbitmq_chunk_queue_is_durable_with_priorities_and_a_long_consumer_timeout() -> None:
    settings = Settings(broker_url="amqp://guest:guest@127.0.0.1:1//", chunk_queue="deployment-a")
    app = create_celery(settings)
    [queue, webhooks] = app.conf.task_queues
    assert (queue.name, queue.durable, app.conf.task_default_queue) == (
        "deployment-a",
        True,
        "deployment-a",
    )
    assert (webhooks.name, webhooks.durable) == ("deployment-a.webhooks", True)
    assert queue.queue_arguments["x-max-priority"] == AMQP_MAX_PRIORITY
    timeout_s = queue.queue_arguments["x-consumer-timeout"] / 1000
    assert timeout_s == settings.visibility_timeout_s > settings.resolved_chunk_hard_time_limit_s
