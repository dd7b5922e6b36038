"""The reads behind live progress: many jobs' counters at once, and their recorded chunks.

An API process follows every job its clients watch with these two statements per poll,
whatever the number of clients (`api/progress_feed.py`), so both take job ids in bulk.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from chunkwise.store.batching import batches
from chunkwise.store.models import Chunk, Job, JobState


@dataclass(frozen=True)
class JobProgress:
    state: JobState
    completed: int
    total: int
    cached: int


@dataclass(frozen=True)
class RecordedChunk:
    job_id: uuid.UUID
    index: int
    worker: str | None
    cache_hits: int
    finished_at: datetime | None


def jobs_progress(
    session: Session, *, job_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, JobProgress]:
    """The counters of each job that exists among `job_ids`."""
    found: dict[uuid.UUID, JobProgress] = {}
    for some in batches(job_ids):
        query = select(
            Job.id, Job.state, Job.completed_chunks, Job.total_chunks, Job.cached_chunks
        ).where(Job.id.in_(some))
        for job_id, state, completed, total, cached in session.execute(query):
            found[job_id] = JobProgress(state, completed, total, cached)
    return found


def recorded_chunks(session: Session, *, job_ids: Collection[uuid.UUID]) -> list[RecordedChunk]:
    """Every recorded chunk of `job_ids`, in the order they were recorded (ties by index)."""
    rows: list[RecordedChunk] = []
    for some in batches(job_ids):
        query = (
            select(Chunk.job_id, Chunk.index, Chunk.worker, Chunk.cache_hits, Chunk.finished_at)
            .where(Chunk.job_id.in_(some), Chunk.partial.is_not(None))
            .order_by(Chunk.finished_at, Chunk.index)
        )
        rows.extend(RecordedChunk(*row) for row in session.execute(query))
    return rows
