"""Housekeeping a worker does between heartbeats: expiring finished jobs.

Every worker runs it; the store functions are safe to race, so no worker is elected.
Each batch is its own short transaction, so a sweep over many expired jobs never holds
the store's write lock for long.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from chunkwise.store import Store, retention
from chunkwise.store.models import ExpiredJob, utcnow

log = logging.getLogger(__name__)

EXPIRE_BATCH = 500
"""Jobs removed per transaction."""
MAX_BATCHES_PER_SWEEP = 20
"""A sweep stops after this many batches; the next one carries on."""
TOMBSTONE_TTL_FACTOR = 30
"""Tombstones are kept this many result TTLs, then purged too."""


class Maintenance:
    """Expires finished jobs at most every `interval_s`, called after each heartbeat."""

    def __init__(self, store: Store, *, result_ttl_s: float, interval_s: float) -> None:
        self.store = store
        self.result_ttl_s = result_ttl_s
        self.interval_s = interval_s
        self._next_sweep = time.monotonic()

    def after_beat(self) -> None:
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + self.interval_s
            self.sweep()

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


def describe_expiry(tombstone: ExpiredJob, *, result_ttl_s: float) -> str:
    """Why a job is gone, for the API's 404."""
    when = tombstone.expired_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"job {tombstone.id} expired on {when}: finished jobs are kept for "
        f"{describe_duration(result_ttl_s)} (CHUNKWISE_RESULT_TTL_S)"
    )


def describe_duration(seconds: float) -> str:
    """A duration in the largest whole unit that fits: '7 days', '90 minutes', '1.5 seconds'."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    value = f"{seconds:g}"
    return f"{value} second{'' if value == '1' else 's'}"
