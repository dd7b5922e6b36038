"""Retention: a worker node's duty of expiring finished jobs (see `worker.duties`).

Every worker runs it; the store functions are safe to race, so no worker is elected.
Each batch is its own short transaction, so a sweep over many expired jobs never holds
the store's write lock for long.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from chunkwise.store import Store, retention
from chunkwise.store.models import utcnow

log = logging.getLogger(__name__)

EXPIRE_BATCH = 500
"""Jobs removed per transaction."""
MAX_BATCHES_PER_SWEEP = 20
"""A sweep stops after this many batches; the next one carries on."""
TOMBSTONE_TTL_FACTOR = 30
"""Tombstones are kept this many result TTLs, then purged too."""


class Retention:
    """Expires finished jobs past `result_ttl_s` and purges old tombstones."""

    def __init__(self, store: Store, *, result_ttl_s: float) -> None:
        self.store = store
        self.result_ttl_s = result_ttl_s

    def sweep(self) -> int:
        """Expire what is due and purge old tombstones; returns how many jobs expired."""
        now = utcnow()
        expired = self.expire(older_than=now - timedelta(seconds=self.result_ttl_s))
        tombstone_ttl = timedelta(seconds=self.result_ttl_s * TOMBSTONE_TTL_FACTOR)
        with self.store.writer() as session:
            retention.purge_tombstones(session, older_than=now - tombstone_ttl, limit=EXPIRE_BATCH)
        if expired:
            log.info("expired %d finished job(s)", expired)
        return expired

    def expire(self, *, older_than: datetime) -> int:
        total = 0
        for _ in range(MAX_BATCHES_PER_SWEEP):
            with self.store.reader() as session:
                if not retention.has_expired_jobs(session, older_than=older_than):
                    break
            with self.store.writer() as session:
                removed = retention.expire_finished_jobs(
                    session, older_than=older_than, limit=EXPIRE_BATCH
                )
            total += removed
            if removed < EXPIRE_BATCH:
                break
        return total
