"""The reads behind live progress: many jobs' counters at once, and their recorded chunks;
and the state a job is shown in.

An API process follows every job its clients watch with these two statements per poll,
whatever the number of clients (`api/progress_feed.py`), so both take job ids in bulk.

A job is STARTED from its first chunk's start until its first chunk is recorded. Starting
a chunk writes only the chunk (`store/recording.py`: the hot path stays one statement), so
the job's row says PENDING until a record moves it to PROGRESS; the state shown is read,
not stored: PENDING with a chunk started (its `started_at` set) reads STARTED, and its
`started_at` is that first start. `SHOWN_STATE` says it in SQL for filters and counts;
`first_starts` gives the starts for views. Only PENDING jobs pay the extra look, at their
chunks' primary key.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from chunkwise.store.batching import batches
from chunkwise.store.models import Chunk, Job, JobState

CHUNK_STARTED = exists().where(Chunk.job_id == Job.id, Chunk.started_at.is_not(None))
"""SQL, of a Job row: one of its chunks has been started."""
STARTED_BY_CHUNKS = and_(Job.state == JobState.PENDING, CHUNK_STARTED)
"""SQL: the job reads STARTED (PENDING in its row, a chunk started)."""
SHOWN_STATE: ColumnElement[JobState] = type_coerce(
    case((STARTED_BY_CHUNKS, JobState.STARTED.value), else_=Job.state), Job.state.type
)
"""SQL: the state a job is shown in. CASE looks at the chunks only for a PENDING row."""


def shown_state_in(states: Collection[JobState]) -> ColumnElement[bool]:
    """SQL: the job is shown in one of `states` (what a list filtered by state asks)."""
    stored = set(states) - {JobState.PENDING, JobState.STARTED}
    either: list[ColumnElement[bool]] = [Job.state.in_(sorted(stored))] if stored else []
    if JobState.STARTED in states:
        either.append(Job.state == JobState.STARTED)
        either.append(STARTED_BY_CHUNKS)
    if JobState.PENDING in states:
        either.append(and_(Job.state == JobState.PENDING, ~CHUNK_STARTED))
    return either[0] if len(either) == 1 else or_(*either)


def first_starts(session: Session, *, job_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    """For each PENDING job among `job_ids` with a chunk started: its first chunk's start,
    from which it reads STARTED."""
    found: dict[uuid.UUID, datetime] = {}
    for some in batches(job_ids):
        query = (
            select(Chunk.job_id, func.min(Chunk.started_at))
            .join(Job, Job.id == Chunk.job_id)
            .where(
                Chunk.job_id.in_(some),
                Job.state == JobState.PENDING,
                Chunk.started_at.is_not(None),
            )
            .group_by(Chunk.job_id)
        )
        found.update({job_id: started for job_id, started in session.execute(query) if started})
    return found


def started_but_unrecorded(session: Session) -> int:
    """How many jobs read STARTED while their rows say PENDING (for counts by state)."""
    return session.scalar(select(func.count()).select_from(Job).where(STARTED_BY_CHUNKS)) or 0


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
    """The counters and shown state of each job that exists among `job_ids`."""
    found: dict[uuid.UUID, JobProgress] = {}
    for some in batches(job_ids):
        query = select(
            Job.id, SHOWN_STATE, Job.completed_chunks, Job.total_chunks, Job.cached_chunks
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
