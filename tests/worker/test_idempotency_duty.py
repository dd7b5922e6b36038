"""The worker node's duties forget idempotency keys past IDEMPOTENCY_TTL_S, on the
retention sweep's schedule; before, no duty did and the table grew for ever."""

from __future__ import annotations

from datetime import timedelta

from celery import Celery
from sqlalchemy import select

from chunkwise.config import Settings
from chunkwise.store import Store
from chunkwise.store.models import IdempotencyRecord, utcnow
from chunkwise.worker.lease import Lease
from chunkwise.worker.node import node_duties

SETTINGS = Settings(broker_url="memory://", idempotency_ttl_s=600, retention_sweep_interval_s=90)


def test_the_node_duties_purge_expired_idempotency_keys(
    store: Store, memory_celery: Celery
) -> None:
    with store.writer() as session:
        now = utcnow()
        session.add_all(
            [
                IdempotencyRecord(
                    scope="user:1", key="old", request_hash="h", created_at=now - timedelta(hours=1)
                ),
                IdempotencyRecord(scope="user:1", key="recent", request_hash="h"),
            ]
        )
    lease = Lease(store, name="node", interval_s=SETTINGS.worker_heartbeat_s)
    duties = {duty.name: duty for duty in node_duties(SETTINGS, store, memory_celery, lease).duties}

    purge = duties["idempotency keys"]
    purge.action()

    assert purge.interval_s == SETTINGS.retention_sweep_interval_s
    with store.reader() as session:
        assert set(session.scalars(select(IdempotencyRecord.key))) == {"recent"}
