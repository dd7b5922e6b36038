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

Two rules keep this from doing harm:
- A chunk that has used up its attempts is never published again; its job fails.
- A node reaps only after its own lease has been renewed without a gap for a whole TTL.
  After a store outage every lease looks stale, its own included; its peers get that
  TTL to renew theirs, so no chunk still held by a live peer is delivered twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import KW_ONLY, dataclass

from celery import Celery
from sqlalchemy.orm import Session

from chunkwise.config import Settings
from chunkwise.engine.celery_app import parse_chunk_task_id, queued_chunks
from chunkwise.engine.dispatch import revoke_unfinished, send_chunks
from chunkwise.engine.runner import spent_error
from chunkwise.store import Store, jobs, recovery
from chunkwise.store import workers as worker_rows
from chunkwise.store.recovery import PendingChunk

log = logging.getLogger(__name__)


@dataclass
class Reaper:
    """Claims dead workers' rows and re-publishes their unfinished chunks."""

    store: Store
    app: Celery
    _: KW_ONLY
    ttl_s: float
    max_attempts: int
    contact_s: Callable[[], float] | None = None
    """How long this node's own lease has been renewed without a gap; None: always."""

    @classmethod
    def for_node(
        cls, settings: Settings, store: Store, app: Celery, contact_s: Callable[[], float]
    ) -> Reaper:
        """The reaper of a worker node, bound by the node's lease settings."""
        return cls(
            store,
            app,
            ttl_s=settings.worker_ttl_s,
            max_attempts=settings.chunk_max_attempts,
            contact_s=contact_s,
        )

    def in_contact(self) -> bool:
        """Whether this node has held its own lease long enough to judge its peers'."""
        return self.contact_s is None or self.contact_s() >= self.ttl_s

    def reap(self) -> int:
        """Re-publish what dead workers held; returns how many chunks went out again.

        The claim and the publish share one transaction: if the broker refuses, the dead
        rows come back and the next round tries again.
        """
        if not self.in_contact():
            return 0
        with self.store.writer() as session:
            dead = worker_rows.claim_dead_workers(session, ttl_s=self.ttl_s)
            if not dead:
                return 0
            keys = chunk_keys(task_id for worker in dead for task_id in worker.holding)
            unrecorded = recovery.unrecorded_chunks(session, keys=keys)
            named = {(chunk.job_id, chunk.index) for chunk in unrecorded}
            started = recovery.started_by(session, workers=[worker.name for worker in dead])
            unrecorded += [c for c in started if (c.job_id, c.index) not in named]
            pending, failed = self._spare_spent(session, unrecorded)
            send_chunks(self.app, pending, urgent=True)
        self._revoke(failed)
        for worker in dead:
            log.warning("worker %s stopped heartbeating; its chunks go out again", worker.name)
        _log_republished(pending, "re-published")
        return len(pending)

    def sweep_orphans(self) -> int:
        """Re-publish chunks nothing is coming for; returns how many went out again."""
        if not self.in_contact() or queued_chunks(self.app):
            return 0
        with self.store.writer() as session:
            holdings = worker_rows.held_chunks(session, ttl_s=self.ttl_s).values()
            held = set(chunk_keys(task_id for holding in holdings for task_id in holding))
            stalled = recovery.stalled_chunks(session, quiet_s=self.ttl_s)
            orphans = [chunk for chunk in stalled if (chunk.job_id, chunk.index) not in held]
            orphans, failed = self._spare_spent(session, orphans)
            send_chunks(self.app, orphans, urgent=True)
        self._revoke(failed)
        _log_republished(orphans, "re-published orphaned")
        return len(orphans)

    def _spare_spent(
        self, session: Session, chunks: Sequence[PendingChunk]
    ) -> tuple[list[PendingChunk], set[uuid.UUID]]:
        """Fail the jobs of chunks that used up their attempts.

        Returns the chunks of the other jobs, and the ids of the jobs failed.
        """
        failed: set[uuid.UUID] = set()
        for chunk in chunks:
            if chunk.attempts >= self.max_attempts and chunk.job_id not in failed:
                error = spent_error(chunk.index, chunk.attempts)
                jobs.fail_job(session, job_id=chunk.job_id, error=error)
                failed.add(chunk.job_id)
                log.error("job %s failed: %s", chunk.job_id, error)
        return [chunk for chunk in chunks if chunk.job_id not in failed], failed

    def _revoke(self, job_ids: Iterable[uuid.UUID]) -> None:
        for job_id in job_ids:
            try:
                revoke_unfinished(self.store, self.app, job_id=job_id, terminate=False)
            except Exception:
                log.warning("job %s failed, but its chunks could not be revoked", job_id)


def _log_republished(chunks: Sequence[PendingChunk], what: str) -> None:
    if chunks:
        names = [f"{chunk.job_id}:{chunk.index}" for chunk in chunks]
        log.warning("%s %d chunk(s): %s", what, len(chunks), names)


def chunk_keys(task_ids: Iterable[str]) -> list[tuple[uuid.UUID, int]]:
    """The (job, index) of each chunk task id; other task ids are passed over."""
    return [key for task_id in task_ids if (key := parse_chunk_task_id(task_id)) is not None]
