"""Data access for jobs and chunks. Functions take the session first and keywords after.

Chunk accounting is exactly-once in effect: a chunk's partial is written only while the
chunk has none (`partial IS NULL`) and its job has not ended, and the job's completed count
moves in the same transaction and only when that write happened, so a redelivered chunk,
or one that finishes after its job was cancelled or failed, changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from chunkwise.store.batching import batches
from chunkwise.store.clock import database_now, db_now
from chunkwise.store.models import TERMINAL_STATES, Chunk, Job, JobState

_TERMINAL = [state.value for state in TERMINAL_STATES]


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


def create_job(
    session: Session,
    *,
    kind: str,
    params: dict[str, Any],
    specs: Sequence[dict[str, Any]],
    use_cache: bool = True,
) -> Job:
    """Add a PENDING job and its chunks; the caller's transaction commits them."""
    job = Job(
        id=uuid.uuid4(),
        kind=kind,
        params=params,
        state=JobState.PENDING,
        total_chunks=len(specs),
        completed_chunks=0,
        cached_chunks=0,
        use_cache=use_cache,
        created_at=database_now(session),
    )
    session.add(job)
    session.flush()
    session.add_all(Chunk(job_id=job.id, index=i, spec=spec) for i, spec in enumerate(specs))
    return job


def get_job(session: Session, job_id: uuid.UUID) -> Job | None:
    return session.get(Job, job_id)


def list_jobs(session: Session, *, limit: int, offset: int) -> list[Job]:
    """Jobs newest first."""
    query = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def count_jobs(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Job)) or 0


def list_chunks(session: Session, *, job_id: uuid.UUID) -> list[Chunk]:
    return list(session.scalars(select(Chunk).where(Chunk.job_id == job_id).order_by(Chunk.index)))


def delete_job(session: Session, *, job_id: uuid.UUID) -> None:
    session.connection().execute(delete(Chunk).where(Chunk.job_id == job_id))
    session.connection().execute(delete(Job).where(Job.id == job_id))


# The statements a chunk runs are built once: building a SQLAlchemy statement costs more
# than executing it on SQLite, and every chunk runs these.
_RUNNING = Job.state.not_in(_TERMINAL)
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
    .where(*_UNRECORDED_CHUNK, exists().where(Job.id == bindparam("b_job"), _RUNNING))
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
    .where(Job.id == bindparam("b_job"), _RUNNING)
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
    kind: str
    params: dict[str, Any]
    state: JobState
    created_at: datetime
    use_cache: bool


@dataclass(frozen=True)
class ChunkStart:
    """A delivered chunk as the store knows it, read as its worker starts it."""

    job: JobHeader
    spec: dict[str, Any]
    attempts: int
    """Starts so far, this one included when `counted`."""
    counted: bool
    """False when the chunk was recorded already or had used up its attempts."""
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
    counted = bool(getattr(connection.execute(_COUNT_ATTEMPT, values), "rowcount", 0))
    row = connection.execute(_START, values).one_or_none()
    if row is None:
        return None
    job = JobHeader(row[0], row[1], row[2], JobState(row[3]), row[4], row[5])
    if counted and job.state == JobState.PENDING:
        connection.execute(_MARK_STARTED, values)
    return ChunkStart(job, row[6], row[7], counted, bool(row[8]))


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
    if getattr(connection.execute(_WRITE_PARTIAL, values), "rowcount", 0):
        row = connection.execute(_COUNT_CHUNK, values).one_or_none()
        if row is not None:
            return ChunkRecord(True, row[0], row[1], JobState(row[2]))
    job = connection.execute(_COUNTS, values).one()
    return ChunkRecord(False, job[0], job[1], JobState(job[2]))


def chunk_partials(session: Session, *, job_id: uuid.UUID) -> list[Any]:
    """Every recorded partial of a job, in chunk order."""
    query = select(Chunk.partial).where(Chunk.job_id == job_id).order_by(Chunk.index)
    return list(session.scalars(query))


def finish_job(session: Session, *, job_id: uuid.UUID, result: dict[str, Any]) -> bool:
    """Store the result and move the job to SUCCESS, once; False if it had already ended."""
    return _end_job(session, job_id, state=JobState.SUCCESS, result=result)


def fail_job(session: Session, *, job_id: uuid.UUID, error: str) -> bool:
    """Move the job to FAILURE with its error, once; False if it had already ended."""
    return _end_job(session, job_id, state=JobState.FAILURE, error=error)


def cancel_job(session: Session, *, job_id: uuid.UUID) -> bool:
    """Move the job to CANCELLED, once; False if it had already ended (or does not exist)."""
    return _end_job(session, job_id, state=JobState.CANCELLED)


def _end_job(session: Session, job_id: uuid.UUID, *, state: JobState, **values: Any) -> bool:
    now = db_now()
    result = session.connection().execute(
        update(Job)
        .where(Job.id == job_id, _RUNNING)
        .values(
            state=state,
            finished_at=now,
            started_at=case((Job.started_at.is_(None), now), else_=Job.started_at),
            **values,
        )
    )
    return bool(getattr(result, "rowcount", 0))


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
        .where(Chunk.partial.is_(None), _RUNNING)
    )
    return [
        PendingChunk(job_id, index, attempts)
        for job_ids in batches({job_id for job_id, _ in keys})
        for job_id, index, attempts in session.execute(query.where(Chunk.job_id.in_(job_ids)))
        if (job_id, index) in wanted
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
            _RUNNING,
            Job.created_at < since,
            Chunk.partial.is_(None),
            ~recent.exists(),
        )
        .order_by(Job.created_at, Chunk.index)
    )
    return [PendingChunk(job_id, index, attempts) for job_id, index, attempts in rows]


def chunk_partial(session: Session, *, job_id: uuid.UUID, index: int) -> Any:
    """One chunk's recorded partial (None when not recorded)."""
    query = select(Chunk.partial).where(Chunk.job_id == job_id, Chunk.index == index)
    return session.scalar(query)


def chunk_attempts(session: Session, *, job_id: uuid.UUID, index: int) -> int | None:
    """How often chunk `index` has been started (None: no such chunk)."""
    query = select(Chunk.attempts).where(Chunk.job_id == job_id, Chunk.index == index)
    return session.scalar(query)


def unrecorded_indices(session: Session, *, job_id: uuid.UUID) -> list[int]:
    """Indices of the job's chunks that have no partial yet."""
    query = select(Chunk.index).where(Chunk.job_id == job_id, Chunk.partial.is_(None))
    return list(session.scalars(query.order_by(Chunk.index)))


@dataclass(frozen=True)
class UnfinishedWork:
    """What admission weighs a new job against."""

    jobs: int
    """Jobs not yet ended."""
    chunks: int
    """Chunks of those jobs with no partial recorded yet."""


# Unrecorded chunks are counted from the jobs' own counters (total - completed), so one
# pass over the unfinished jobs (by ix_jobs_state) answers both, whatever the chunk count.
_UNFINISHED = [state.value for state in JobState if state not in TERMINAL_STATES]
_UNFINISHED_WORK = select(
    func.count(), func.coalesce(func.sum(Job.total_chunks - Job.completed_chunks), 0)
).where(Job.state.in_(_UNFINISHED))


def unfinished_work(session: Session) -> UnfinishedWork:
    """How many jobs are unfinished and how many of their chunks are unrecorded, in one query."""
    job_count, chunk_count = session.execute(_UNFINISHED_WORK).one()
    return UnfinishedWork(jobs=int(job_count), chunks=int(chunk_count))


def item_counts(session: Session, *, job_id: uuid.UUID) -> list[tuple[int, int | None]]:
    """(index, item count) of each of the job's chunks in order; None where not recorded."""
    query = select(Chunk.index, Chunk.item_count).where(Chunk.job_id == job_id)
    return [(index, count) for index, count in session.execute(query.order_by(Chunk.index))]
