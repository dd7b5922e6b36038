"""A worker node's duties, as `node_duties` wires them from settings: each runs on its
interval, the cache bound evicts down to CACHE_MAX_ENTRIES, and retention expires jobs
finished longer than RESULT_TTL_S ago, leaving a tombstone. Each duty is run by hand here,
as the duties thread would run it; nothing is started."""

from __future__ import annotations

import uuid
from datetime import timedelta

from celery import Celery
from sqlalchemy import update

from chunkwise.config import Settings
from chunkwise.engine import ChunkRunner
from chunkwise.store import Job, Store, cache, jobs, retention
from chunkwise.store.models import CacheEntry, utcnow
from chunkwise.worker.duties import Duties, Duty
from chunkwise.worker.lease import Lease
from chunkwise.worker.node import node_duties

SETTINGS = Settings(
    broker_url="memory://",
    worker_heartbeat_s=2.0,
    worker_ttl_s=6.0,
    cache_max_entries=3,
    cache_evict_interval_s=45.0,
    result_ttl_s=3600.0,
    retention_sweep_interval_s=120.0,
    webhook_sweep_s=0.5,
)


def duties_of(store: Store, app: Celery) -> dict[str, Duty]:
    lease = Lease(store, name="node", interval_s=SETTINGS.worker_heartbeat_s)
    duties: Duties = node_duties(SETTINGS, store, app, lease)
    return {duty.name: duty for duty in duties.duties}


def finished_job(store: Store, finished_ago: timedelta) -> uuid.UUID:
    """A one-chunk sum_range job computed to SUCCESS `finished_ago`."""
    with store.writer() as session:
        job_id = jobs.create_job(
            session, kind="sum_range", params={"n": 3}, specs=[{"lo": 1, "hi": 3}]
        ).id
    ChunkRunner(store, {}).run(job_id=job_id, index=0, worker="test")
    with store.writer() as session:
        ended = utcnow() - finished_ago
        session.execute(update(Job).where(Job.id == job_id).values(finished_at=ended))
    return job_id


def test_each_duty_runs_on_the_interval_its_settings_give(
    store: Store, memory_celery: Celery
) -> None:
    duties = duties_of(store, memory_celery)

    assert {name: duty.interval_s for name, duty in duties.items()} == {
        "reap": 1.0,  # twice per heartbeat
        "orphan sweep": 6.0,
        "cache bound": 45.0,
        "retention": 120.0,
        "idempotency keys": 120.0,  # on the retention sweep's schedule
        "webhooks": 0.5,
    }
    assert duties["orphan sweep"].first_after_s == 6.0  # peers get a TTL to report in first


def test_the_cache_bound_keeps_the_most_recently_used_entries(
    store: Store, memory_celery: Celery
) -> None:
    with store.writer() as session:
        cache.remember(session, entries={f"block:{n}": n for n in range(5)})
    with store.writer() as session:
        old = utcnow() - timedelta(hours=1)
        session.execute(update(CacheEntry).values(used_at=old))
    with store.writer() as session:
        cache.touch(session, keys=["block:0", "block:4"])

    duties_of(store, memory_celery)["cache bound"].action()

    with store.reader() as session:
        assert cache.size(session) == SETTINGS.cache_max_entries
        kept = cache.lookup(session, keys=[f"block:{n}" for n in range(5)])
    assert {"block:0", "block:4"} <= set(kept)


def test_retention_expires_jobs_finished_past_the_ttl_and_leaves_a_tombstone(
    store: Store, memory_celery: Celery
) -> None:
    expired = finished_job(store, timedelta(hours=2))
    recent = finished_job(store, timedelta(minutes=5))

    duties_of(store, memory_celery)["retention"].action()

    with store.reader() as session:
        assert jobs.get_job(session, job_id=expired) is None
        tombstone = retention.expired_job(session, job_id=expired)
        kept = jobs.get_job(session, job_id=recent)
    assert tombstone is not None and tombstone.kind == "sum_range"
    assert kept is not None and kept.state == "SUCCESS"
    assert kept.result is not None and kept.result["sum"] == 6
