"""The chunk hot path: every delivered chunk is started here, and recorded here once computed.

Chunk accounting is exactly-once in effect: a chunk's partial is written only while the
chunk has none (`partial IS NULL`) and its job has not ended, and the job's completed count
moves in the same transaction and only when that write happened, so a redelivered chunk,
or one that finishes after its job was cancelled or failed, changes nothing.

Every chunk runs these statements, so they are built once, at import: building a
SQLAlchemy statement costs more than executing it on SQLite.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.orm import Session

from chunkwise.store.clock import db_now
from chunkwise.store.jobs import JOB_RUNNING
from chunkwise.store.models import Chunk, Job, JobState
from chunkwise.store.writes import rows_changed

_UNRECORDED_CHUNK = (
    Chunk.job_id == bindparam("b_job"),
    Chunk.index == bindparam("b_index"),
    Chunk.partial.is_(None),
)
_COUNT_ATTEMPT = (
    update(Chunk)
    .where(*_UNRECORDED_CHUNK, Chunk.attempts < bindparam("b_max"))
    .values(attempts=Chunk.attempts + 1)
)
# The chunk's kind and spec come from here, in the same query as its job's header: a
# chunk message carries only (job id, index), so whoever can reach the broker cannot
# widen a job's range or plant a partial for another one.
_START = (
    select(
        Job.id,
        Job.kind,
        Job.params,
        Job.state,
        Job.created_at,
        Job.use_cache,
        Chunk.spec,
        Chunk.attempts,
        Chunk.partial.is_not(None),
    )
    .join(Chunk, Chunk.job_id == Job.id)
    .where(Job.id == bindparam("b_job"), Chunk.index == bindparam("b_index"))
)
_MARK_STARTED = (
    update(Job)
    .where(Job.id == bindparam("b_job"), Job.state == JobState.PENDING)
    .values(state=JobState.STARTED, started_at=db_now())
)
_WRITE_PARTIAL = (
    update(Chunk)
    .where(*_UNRECORDED_CHUNK, exists().where(Job.id == bindparam("b_job"), JOB_RUNNING))
    .values(
        partial=bindparam("b_partial"),
        worker=bindparam("b_worker"),
        finished_at=db_now(),
        cache_hits=bindparam("b_hits"),
        item_count=bindparam("b_items"),
    )
)
_COUNT_CHUNK = (
    update(Job)
    .where(Job.id == bindparam("b_job"), JOB_RUNNING)
    .values(
        completed_chunks=Job.completed_chunks + 1,
        cached_chunks=Job.cached_chunks + bindparam("b_cached"),
        state=JobState.PROGRESS,
        started_at=func.coalesce(Job.started_at, db_now()),
    )
    .returning(Job.completed_chunks, Job.total_chunks, Job.state)
)
_COUNTS = select(Job.completed_chunks, Job.total_chunks, Job.state).where(
    Job.id == bindparam("b_job")
)


@dataclass(frozen=True)
class JobHeader:
    """What running a chunk needs to know of its job."""

    id: uuid.UUID
    """The job's key, the one thing of it a chunk message carries."""
    kind: str
    """Which workload computes the chunk, read here and never from the message."""
    params: dict[str, Any]
    """As stored at submission; validated again before the partials are combined."""
    state: JobState
    """As read at the start: the job may end while its chunk computes."""
    created_at: datetime
    """Where the duration in the job's result counts from."""
    use_cache: bool
    """The submitter's choice (`?cache=`); the worker's CACHE_ENABLED has the last word."""


@dataclass(frozen=True)
class ChunkStart:
    """A delivered chunk as the store knows it, read as its worker starts it.

    `attempts` counts its starts so far, this one included when `counted`; a start is not
    counted when the chunk was `recorded` already or had used up its attempts.
    """

    job: JobHeader
    spec: dict[str, Any]
    attempts: int
    counted: bool
    recorded: bool


def start_chunk(
    session: Session, *, job_id: uuid.UUID, index: int, max_attempts: int
) -> ChunkStart | None:
    """Count a start of chunk `index` and read it with its job (None: no such chunk).

    The start is counted only while the chunk is unrecorded and under `max_attempts`; a
    PENDING job moves to STARTED. One transaction, three short statements.
    """
    connection = session.connection()
    values = {"b_job": job_id, "b_index": index, "b_max": max_attempts}
    counted = bool(rows_changed(connection.execute(_COUNT_ATTEMPT, values)))
    row = connection.execute(_START, values).one_or_none()
    if row is None:
        return None
    job = JobHeader(row[0], row[1], row[2], row[3], row[4], row[5])
    if counted and job.state == JobState.PENDING:
        connection.execute(_MARK_STARTED, values)
    return ChunkStart(job, row[6], row[7], counted, bool(row[8]))


@dataclass(frozen=True)
class ChunkRecord:
    """What recording one chunk did to its job."""

    recorded: bool
    """False when the chunk already had a partial (a redelivery) or the job was over."""
    completed: int
    total: int
    job_state: JobState

    @property
    def all_done(self) -> bool:
        return self.completed >= self.total


def record_chunk(
    session: Session,
    *,
    job_id: uuid.UUID,
    index: int,
    partial: Any,
    worker: str,
    cache_hits: int = 0,
    from_cache: bool = False,
    item_count: int | None = None,
) -> ChunkRecord:
    """Keep a chunk's partial once and count it; a second recording changes nothing.

    A job that has ended (SUCCESS, FAILURE, CANCELLED) is not counted and gets no new
    partials; on PostgreSQL a partial racing the end's commit may still land, uncounted.
    """
    connection = session.connection()
    values = {
        "b_job": job_id,
        "b_index": index,
        "b_partial": partial,
        "b_worker": worker,
        "b_hits": cache_hits,
        "b_cached": int(from_cache),
        "b_items": item_count,
    }
    if rows_changed(connection.execute(_WRITE_PARTIAL, values)):
        row = connection.execute(_COUNT_CHUNK, values).one_or_none()
        if row is not None:
            return ChunkRecord(True, row[0], row[1], row[2])
    job = connection.execute(_COUNTS, values).one()
    return ChunkRecord(False, job[0], job[1], job[2])
