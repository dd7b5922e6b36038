"""Taking back what no one will finish. The reaper claims a silent worker's row once and
re-publishes the chunks it held that are still owed; the orphan sweep re-publishes the
chunks of a running job gone quiet that no live worker holds, and only while the queue
is empty. Neither touches a live worker's chunks, a recorded chunk or an ended job.

Real SQLite store; workers report in through their Lease; Celery on kombu's in-memory
transport, whose queue the tests read back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from celery import Celery
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy import update

from chunkwise.engine import ChunkRunner, cancel_job
from chunkwise.engine.celery_app import chunk_task_id
from chunkwise.engine.dispatch import publish_chunks
from chunkwise.store import Job, Store, Worker, jobs, recording
from chunkwise.store import workers as worker_rows
from chunkwise.store.models import utcnow
from chunkwise.worker import reaper as reaper_module
from chunkwise.worker.lease import Lease
from chunkwise.worker.reaper import Reaper, chunk_keys
from chunkwise.workloads import get_workload
from tests.memory_broker import take_published

TTL_S = 30.0
LONG_AGO = timedelta(hours=1)


def sum_job(store: Store, chunks: int) -> uuid.UUID:
    """A running sum_range job of `chunks` chunks; nothing of it is published."""
    workload = get_workload("sum_range")
    specs = workload.split(workload.params_model.model_validate({"n": 100}), chunks)
    with store.writer() as session:
        return jobs.create_job(session, kind="sum_range", params={"n": 100}, specs=specs).id


def report_in(store: Store, name: str, holding: Sequence[str], *, silent: bool = False) -> None:
    """Worker `name` beats once holding `holding`; `silent`: and has not beaten since."""
    assert Lease(store, name=name, interval_s=1.0, holding=lambda: list(holding)).beat()
    if silent:
        with store.writer() as session:
            session.execute(
                update(Worker).where(Worker.name == name).values(heartbeat_at=utcnow() - LONG_AGO)
            )


def quiet_job(store: Store, chunks: int) -> uuid.UUID:
    """A running sum_range job that looks as if it was created, and last heard of, long ago."""
    job_id = sum_job(store, chunks)
    with store.writer() as session:
        session.execute(update(Job).where(Job.id == job_id).values(created_at=utcnow() - LONG_AGO))
    return job_id


def record(store: Store, job_id: uuid.UUID, index: int) -> None:
    ChunkRunner(store, {}).run(job_id=job_id, index=index, worker="test")


def worker_rows_kept(store: Store) -> list[str]:
    """The workers whose rows are in the store, silent or not."""
    with store.reader() as session:
        return worker_rows.live_workers(session, ttl_s=10 * LONG_AGO.total_seconds())


def published(app: Celery) -> list[tuple[uuid.UUID, int]]:
    return [(message.job_id, message.index) for message in take_published(app)]


def swept(reaper: Reaper, app: Celery) -> tuple[int, list[tuple[uuid.UUID, int]]]:
    """One orphan sweep: what it says it re-published, and what the queue then holds."""
    count = reaper.sweep_orphans()
    return count, published(app)


@pytest.fixture
def reaper(store: Store, memory_celery: Celery, monkeypatch: pytest.MonkeyPatch) -> Reaper:
    """A reaper in contact with the store, whose revokes are not sent anywhere."""
    monkeypatch.setattr(memory_celery.control, "revoke", lambda *_, **__: None)
    return Reaper(store, memory_celery, ttl_s=TTL_S, max_attempts=5)


def test_a_silent_workers_owed_chunks_go_out_again_and_its_row_is_claimed(
    store: Store, memory_celery: Celery, reaper: Reaper
) -> None:
    running, cancelled = sum_job(store, 3), sum_job(store, 1)
    record(store, running, 1)
    cancel_job(store, memory_celery, job_id=cancelled)
    held = [chunk_task_id(running, i) for i in range(3)] + [chunk_task_id(cancelled, 0)]
    report_in(store, "dead", [*held, "some-other-task"], silent=True)
    report_in(store, "alive", [chunk_task_id(running, 2)])

    assert reaper.reap() == 2

    assert published(memory_celery) == [(running, 0), (running, 2)]
    assert worker_rows_kept(store) == ["alive"]
    assert reaper.reap() == 0  # claimed once: nothing is published twice
    assert published(memory_celery) == []


def test_a_chunk_a_dead_worker_started_before_its_lease_named_it_goes_out_again(
    store: Store, memory_celery: Celery, reaper: Reaper
) -> None:
    job_id = sum_job(store, 3)
    with store.write_connection() as connection:  # "dead" received chunk 1, started it...
        recording.start_chunk(connection, job_id=job_id, index=1, max_attempts=5, worker="dead")
    report_in(store, "dead", [], silent=True)  # ...and died before its lease named it

    assert reaper.reap() == 1

    assert published(memory_celery) == [(job_id, 1)]


def test_with_no_silent_worker_nothing_goes_out(
    store: Store, memory_celery: Celery, reaper: Reaper
) -> None:
    job_id = sum_job(store, 2)
    report_in(store, "alive", [chunk_task_id(job_id, 0)])

    assert reaper.reap() == 0

    assert published(memory_celery) == []
    assert worker_rows_kept(store) == ["alive"]


def test_when_the_broker_refuses_the_claim_is_undone_and_the_next_round_publishes(
    store: Store, memory_celery: Celery, reaper: Reaper
) -> None:
    job_id = sum_job(store, 1)
    report_in(store, "dead", [chunk_task_id(job_id, 0)], silent=True)

    def refuse(app: Celery, chunks: Any, *, urgent: bool = False) -> None:
        raise KombuOperationalError("broker down")

    with pytest.MonkeyPatch.context() as broker_down:
        broker_down.setattr(reaper_module, "send_chunks", refuse)
        with pytest.raises(KombuOperationalError):
            reaper.reap()
    assert worker_rows_kept(store) == ["dead"]

    assert reaper.reap() == 1
    assert published(memory_celery) == [(job_id, 0)]


def test_a_quiet_jobs_chunks_no_live_worker_holds_go_out_again(
    store: Store, memory_celery: Celery, reaper: Reaper
) -> None:
    job_id = quiet_job(store, 3)
    report_in(store, "alive", [chunk_task_id(job_id, 1)])

    assert swept(reaper, memory_celery) == (2, [(job_id, 0), (job_id, 2)])


def test_the_sweep_waits_while_the_queue_holds_chunks(
    store: Store, memory_celery: Celery, reaper: Reaper
) -> None:
    quiet_job(store, 1)  # owed chunks, but the queue is not empty: they may be in it
    queued = sum_job(store, 2)
    publish_chunks(memory_celery, job_id=queued, count=2)

    assert swept(reaper, memory_celery) == (0, [(queued, 0), (queued, 1)])


def test_a_job_that_recorded_a_chunk_lately_or_is_new_is_not_orphaned(
    store: Store, memory_celery: Celery, reaper: Reaper
) -> None:
    progressing = quiet_job(store, 2)
    record(store, progressing, 0)
    sum_job(store, 2)  # just created: its chunks may still be on their way

    assert swept(reaper, memory_celery) == (0, [])


def test_a_node_out_of_contact_neither_reaps_nor_sweeps(
    store: Store, memory_celery: Celery
) -> None:
    job_id = quiet_job(store, 1)
    report_in(store, "dead", [chunk_task_id(job_id, 0)], silent=True)
    reaper = Reaper(store, memory_celery, ttl_s=TTL_S, max_attempts=5, contact_s=lambda: 1.0)

    assert (reaper.reap(), reaper.sweep_orphans()) == (0, 0)

    assert published(memory_celery) == []
    assert worker_rows_kept(store) == ["dead"]  # left for a node in contact to claim


def test_chunk_keys_pass_over_task_ids_that_name_no_chunk() -> None:
    job_id = uuid.uuid4()
    ids = [chunk_task_id(job_id, 3), "celery.backend_cleanup", f"{job_id}:x"]
    assert chunk_keys(ids) == [(job_id, 3)]
