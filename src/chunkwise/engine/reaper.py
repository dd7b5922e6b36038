"""Taking chunks back from dead workers.

Redis cannot tell a slow worker from a dead one before the visibility timeout (an hour
here, so long chunks are never delivered twice while healthy). The store can: a worker
that stops heartbeating for `ttl_s` has lost its lease, and the first live worker to
notice re-publishes the chunks it held, ahead of the queue. A worker that was only
stalled and finishes anyway is harmless: its partial is recorded once.
"""

from __future__ import annotations

import logging

from celery import Celery

from chunkwise.engine.celery_app import parse_chunk_task_id
from chunkwise.engine.dispatch import send_chunks
from chunkwise.store import Store, jobs
from chunkwise.store import workers as worker_rows

log = logging.getLogger(__name__)


class Reaper:
    """Claims dead workers' rows and re-publishes their unfinished chunks."""

    def __init__(self, store: Store, app: Celery, *, ttl_s: float) -> None:
        self.store = store
        self.app = app
        self.ttl_s = ttl_s

    def reap(self) -> int:
        """Re-publish what dead workers held; returns how many chunks went out again.

        The claim and the publish share one transaction: if the broker refuses, the dead
        rows come back and the next beat tries again.
        """
        with self.store.writer() as session:
            dead = worker_rows.claim_dead_workers(session, ttl_s=self.ttl_s)
            if not dead:
                return 0
            keys = [
                key
                for worker in dead
                for held in worker.holding
                if (key := parse_chunk_task_id(held))
            ]
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
