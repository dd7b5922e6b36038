"""Taking back chunks that no one will finish: those of dead workers, and orphans.

Redis cannot tell a slow worker from a dead one before the visibility timeout (an hour
here, so long chunks are never delivered twice while healthy). The store can: a worker
that stops heartbeating for `ttl_s` has lost its lease, and the first live worker to
notice re-publishes the chunks it held, ahead of the queue. A worker that was only
stalled and finishes anyway is harmless: its partial is recorded once.

Orphans are the rest: a message the broker lost (restarted without persistence), or one
a worker dropped when its broker connection broke before the chunk started. When the
queue is empty, a running job has recorded nothing for `ttl_s`, and no live worker holds
its missing chunks, nothing is coming for them: they are published again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable

from celery import Celery

from chunkwise.engine.celery_app import parse_chunk_task_id, queued_chunks
from chunkwise.engine.dispatch import send_chunks
from chunkwise.store import Store, cache, jobs
from chunkwise.store import workers as worker_rows

log = logging.getLogger(__name__)


class Reaper:
    """Claims dead workers' rows and re-publishes their unfinished chunks."""

    def __init__(
        self, store: Store, app: Celery, *, ttl_s: float, cache_max_entries: int | None = None
    ) -> None:
        self.store = store
        self.app = app
        self.ttl_s = ttl_s
        self.cache_max_entries = cache_max_entries
        self._next_sweep = time.monotonic() + ttl_s

    def after_beat(self) -> None:
        """Run after each heartbeat: reap dead workers always, sweep orphans every TTL."""
        self.reap()
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + self.ttl_s
            self.sweep_orphans()
            self.bound_cache()

    def bound_cache(self) -> int:
        """Evict least recently used cache entries beyond the size bound."""
        if self.cache_max_entries is None:
            return 0
        with self.store.writer() as session:
            return cache.evict(session, max_entries=self.cache_max_entries)

    def sweep_orphans(self) -> int:
        """Re-publish chunks nothing is coming for; returns how many went out again."""
        if queued_chunks(self.app):
            return 0
        with self.store.writer() as session:
            holdings = worker_rows.held_chunks(session, ttl_s=self.ttl_s).values()
            held = set(chunk_keys(task_id for holding in holdings for task_id in holding))
            stalled = jobs.stalled_chunks(session, quiet_s=self.ttl_s)
            orphans = [chunk for chunk in stalled if (chunk.job_id, chunk.index) not in held]
            send_chunks(self.app, orphans, urgent=True)
        if orphans:
            names = [f"{chunk.job_id}:{chunk.index}" for chunk in orphans]
            log.warning("re-published %d orphaned chunk(s): %s", len(orphans), names)
        return len(orphans)

    def reap(self) -> int:
        """Re-publish what dead workers held; returns how many chunks went out again.

        The claim and the publish share one transaction: if the broker refuses, the dead
        rows come back and the next beat tries again.
        """
        with self.store.writer() as session:
            dead = worker_rows.claim_dead_workers(session, ttl_s=self.ttl_s)
            if not dead:
                return 0
            keys = chunk_keys(task_id for worker in dead for task_id in worker.holding)
            pending = jobs.unrecorded_chunks(session, keys=keys)
            send_chunks(self.app, pending, urgent=True)
        for worker in dead:
            log.warning(
                "worker %s stopped heartbeating; its chunks are delivered again", worker.name
            )
        if pending:
            log.warning(
                "re-published %d chunk(s): %s",
                len(pending),
                [f"{c.job_id}:{c.index}" for c in pending],
            )
        return len(pending)


def chunk_keys(task_ids: Iterable[str]) -> list[tuple[uuid.UUID, int]]:
    """The (job, index) of each chunk task id; other task ids are passed over."""
    return [key for task_id in task_ids if (key := parse_chunk_task_id(task_id)) is not None]
