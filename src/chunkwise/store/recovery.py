"""What is asked of the store to take back chunks no one will finish, or to give up on them.

A chunk's message can go with its worker (the reaper takes over a silent worker's chunks)
or with the broker (the orphan sweep looks for running jobs gone quiet), and a pool
process can die under it (the task's failure handler asks how often it was started).
Only chunks still owed are published again, those of running jobs with no partial yet,
and a chunk that has used up its starts ends its job instead of going round again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from chunkwise.store.batching import batches
from chunkwise.store.clock import db_now
from chunkwise.store.jobs import JOB_RUNNING
from chunkwise.store.models import Chunk, Job


@dataclass(frozen=True)
class PendingChunk:
    """A chunk still owed to a running job: enough to publish it again, or to see that
    it has used up its attempts."""

    job_id: uuid.UUID
    index: int
    attempts: int = 0


def unrecorded_chunks(
    session: Session, *, keys: Sequence[tuple[uuid.UUID, int]]
) -> list[PendingChunk]:
    """Of the (job, index) keys, the chunks with no partial yet whose job is still running."""
    if not keys:
        return []
    wanted = set(keys)
    query = (
        select(Chunk.job_id, Chunk.index, Chunk.attempts)
        .join(Job, Job.id == Chunk.job_id)
        .where(Chunk.partial.is_(None), JOB_RUNNING)
    )
    return [
        PendingChunk(job_id, index, attempts)
        for job_ids in batches({job_id for job_id, _ in keys})
        for job_id, index, attempts in session.execute(query.where(Chunk.job_id.in_(job_ids)))
        if (job_id, index) in wanted
    ]


def started_by(session: Session, *, workers: Sequence[str]) -> list[PendingChunk]:
    """Unrecorded chunks of running jobs that one of `workers` started last."""
    if not workers:
        return []
    query = (
        select(Chunk.job_id, Chunk.index, Chunk.attempts)
        .join(Job, Job.id == Chunk.job_id)
        .where(Chunk.finished_at.is_(None), Chunk.worker.in_(workers), JOB_RUNNING)
    )
    return [
        PendingChunk(job_id, index, attempts) for job_id, index, attempts in session.execute(query)
    ]


def stalled_chunks(session: Session, *, quiet_s: float) -> list[PendingChunk]:
    """Unrecorded chunks of running jobs that have recorded nothing for `quiet_s` seconds."""
    since = db_now(-quiet_s)
    sibling = aliased(Chunk)
    recent = select(sibling.job_id).where(sibling.job_id == Job.id, sibling.finished_at >= since)
    rows = session.execute(
        select(Chunk.job_id, Chunk.index, Chunk.attempts)
        .join(Job, Job.id == Chunk.job_id)
        .where(
            JOB_RUNNING,
            Job.created_at < since,
            Chunk.partial.is_(None),
            ~recent.exists(),
        )
        .order_by(Job.created_at, Chunk.index)
    )
    return [PendingChunk(job_id, index, attempts) for job_id, index, attempts in rows]


def chunk_attempts(session: Session, *, job_id: uuid.UUID, index: int) -> int | None:
    """How often chunk `index` has been started (None: no such chunk)."""
    query = select(Chunk.attempts).where(Chunk.job_id == job_id, Chunk.index == index)
    return session.scalar(query)
