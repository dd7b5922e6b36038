"""The reaper and the orphan sweep never publish a chunk that has used up its attempts:
its job fails instead. Real SQLite store; Celery on kombu's in-memory transport."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from celery import Celery
from sqlalchemy import update

from chunkwise.config import Settings
from chunkwise.engine.celery_app import create_celery
from chunkwise.store import Store, jobs, recording
from chunkwise.store import workers as worker_rows
from chunkwise.store.models import Job, Worker, utcnow
from chunkwise.worker.reaper import Reaper

MAX_ATTEMPTS = 3


@pytest.fixture
def app() -> Celery:
    return create_celery(Settings(broker_url="memory://"))


def job_with_spent_chunk(store: Store) -> uuid.UUID:
    """A running two-chunk job whose chunk 0 was started MAX_ATTEMPTS times."""
    with store.writer() as session:
        job_id = jobs.create_job(
            session, kind="sum_range", params={"n": 2}, specs=[{"lo": 1}, {"lo": 2}]
        ).id
    for _ in range(MAX_ATTEMPTS):
        with store.writer() as session:
            recording.start_chunk(session, job_id=job_id, index=0, max_attempts=MAX_ATTEMPTS)
    return job_id


def state_and_error(store: Store, job_id: uuid.UUID) -> tuple[str, str | None]:
    with store.reader() as session:
        job = jobs.get_job(session, job_id=job_id)
    assert job is not None
    return job.state, job.error


def test_a_dead_workers_spent_chunk_fails_its_job(store: Store, app: Celery) -> None:
    job_id = job_with_spent_chunk(store)
    with store.writer() as session:
        worker_rows.heartbeat(session, name="dead", holding=[f"{job_id}:0", f"{job_id}:1"])
        old = utcnow() - timedelta(hours=1)
        session.execute(update(Worker).where(Worker.name == "dead").values(heartbeat_at=old))

    published = Reaper(store, app, ttl_s=3, max_attempts=MAX_ATTEMPTS).reap()

    assert published == 0
    state, error = state_and_error(store, job_id)
    assert state == "FAILURE"
    assert error is not None and error.startswith(f"chunk 0 was started {MAX_ATTEMPTS} times")


def test_the_orphan_sweep_fails_a_job_whose_chunk_is_spent(store: Store, app: Celery) -> None:
    job_id = job_with_spent_chunk(store)
    with store.writer() as session:
        old = utcnow() - timedelta(hours=1)
        session.execute(update(Job).where(Job.id == job_id).values(created_at=old))

    published = Reaper(store, app, ttl_s=3, max_attempts=MAX_ATTEMPTS).sweep_orphans()

    assert published == 0
    assert state_and_error(store, job_id)[0] == "FAILURE"


def test_an_unspent_orphan_is_published_again(store: Store, app: Celery) -> None:
    with store.writer() as session:
        job_id = jobs.create_job(session, kind="sum_range", params={"n": 1}, specs=[{"lo": 1}]).id
        old = utcnow() - timedelta(hours=1)
        session.execute(update(Job).where(Job.id == job_id).values(created_at=old))

    assert Reaper(store, app, ttl_s=3, max_attempts=MAX_ATTEMPTS).sweep_orphans() == 1
    assert state_and_error(store, job_id)[0] == "PENDING"
