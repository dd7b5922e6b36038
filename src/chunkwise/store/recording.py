"""The chunk hot path: every delivered chunk is started here, and recorded here once computed.

Chunk accounting is exactly-once in effect: a chunk's partial is written only while the
chunk has none (`partial IS NULL`) and its job has not ended, and the job's completed count
moves in the same transaction and only when that write happened, so a redelivered chunk,
or one that finishes after its job was cancelled or failed, changes nothing.

A chunk costs one round trip to start and one to record, whatever the backend's distance:
the start counts the attempt and reads the chunk with its job in one UPDATE ... RETURNING;
the record writes the partial and counts it in one statement on PostgreSQL (a writing CTE).
SQLite, which has no writing CTE, takes two statements, in-process and in one transaction.
Starting a chunk writes nothing to its job: the job's first recorded chunk moves it to
PROGRESS, so a job reads PENDING until then.

Every chunk runs these statements, so they are built once, at import: building a
SQLAlchemy statement costs more than executing it on SQLite.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, exists, func, select, update
from sqlalchemy.orm import Session

from chunkwise.store.clock import db_now
from chunkwise.store.driver_statements import DriverStatement
from chunkwise.store.jobs import JOB_RUNNING_BOUND
from chunkwise.store.models import Chunk, Job, JobState
from chunkwise.store.writes import connection_of

_UNRECORDED_CHUNK = (
    Chunk.job_id == bindparam("b_job"),
    Chunk.index == bindparam("b_index"),
    Chunk.partial.is_(None),
)


def _of_job(column: Any) -> ColumnElement[Any]:
    """One column of the chunk's job, as a subquery a chunk statement can return."""
    return select(column).where(Job.id == bindparam("b_job")).scalar_subquery()


# The chunk's kind and spec come from the store, with its job's header: a chunk message
# carries only (job id, index), so whoever can reach the broker cannot widen a job's range
# or plant a partial for another one.
_START_COLUMNS = (
    _of_job(Job.kind),
    _of_job(Job.params),
    _of_job(Job.state),
    _of_job(Job.created_at),
    _of_job(Job.use_cache),
    Chunk.spec,
    Chunk.attempts,
)
_COUNT_START = (
    update(Chunk)
    .where(*_UNRECORDED_CHUNK, Chunk.attempts < bindparam("b_max"))
    .values(attempts=Chunk.attempts + 1, started_at=db_now(), worker=bindparam("b_worker"))
    .returning(*_START_COLUMNS)
)
_READ_UNCOUNTED = select(*_START_COLUMNS, Chunk.partial.is_not(None)).where(
    Chunk.job_id == bindparam("b_job"), Chunk.index == bindparam("b_index")
)
"""For the rare start that is not counted: the chunk is recorded, spent, or missing."""

_WRITE_PARTIAL = (
    update(Chunk)
    .where(*_UNRECORDED_CHUNK, exists().where(Job.id == bindparam("b_job"), JOB_RUNNING_BOUND))
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
    .where(Job.id == bindparam("b_job"), JOB_RUNNING_BOUND)
    .values(
        completed_chunks=Job.completed_chunks + 1,
        cached_chunks=Job.cached_chunks + bindparam("b_cached"),
        state=JobState.PROGRESS,
        started_at=func.coalesce(Job.started_at, db_now()),
    )
    .returning(Job.completed_chunks, Job.total_chunks, Job.state)
)
_WRITTEN = _WRITE_PARTIAL.returning(Chunk.index).cte("written")
_WRITE_AND_COUNT = _COUNT_CHUNK.where(exists(_WRITTEN.select()))
"""PostgreSQL: the partial's write and its count in one statement; a row comes back only
when both happened."""
_COUNTS = select(Job.completed_chunks, Job.total_chunks, Job.state).where(
    Job.id == bindparam("b_job")
)
_GIVE_BACK_START = (
    update(Chunk)
    .where(*_UNRECORDED_CHUNK, Chunk.attempts > 0)
    .values(attempts=Chunk.attempts - 1, worker=None, started_at=None)
)
"""A start taken back: rare (a worker without the chunk's kind, a node stopping), so run
through the ORM rather than the driver's cursor."""
_GIVE_BACK_OWN_START = _GIVE_BACK_START.where(Chunk.worker == bindparam("b_worker"))
"""Only while the chunk's last start is `b_worker`'s: a stopping node that cut off a chunk
before its process counted the start must not take back an earlier worker's."""
# On SQLite these run on the driver's cursor (`store/driver_statements.py`).
_COUNTING_START = DriverStatement(_COUNT_START)
_READING_UNCOUNTED = DriverStatement(_READ_UNCOUNTED)
_WRITING_PARTIAL = DriverStatement(_WRITE_PARTIAL)
_COUNTING_CHUNK = DriverStatement(_COUNT_CHUNK)
_READING_COUNTS = DriverStatement(_COUNTS)


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
    session: Session | Connection,
    *,
    job_id: uuid.UUID,
    index: int,
    max_attempts: int,
    worker: str | None = None,
) -> ChunkStart | None:
    """Count a start of chunk `index` by `worker` and read it with its job (None: no such
    chunk).

    The start is counted only while the chunk is unrecorded and under `max_attempts`. One
    statement; a second, a read, only for a start that is not counted. The chunk then
    names the worker computing it, so if that worker dies the chunk is taken back even
    when its lease did not name it yet (it died within a beat of receiving it).
    """
    connection = connection_of(session)
    values = {"b_job": job_id, "b_index": index, "b_max": max_attempts, "b_worker": worker}
    counted = _COUNTING_START.execute(connection, values).rows
    if counted:  # counted, so unrecorded
        row = counted[0]
        return ChunkStart(_header(job_id, row), row[5], row[6], counted=True, recorded=False)
    uncounted = _READING_UNCOUNTED.execute(connection, values).rows
    if not uncounted:
        return None
    row = uncounted[0]
    return ChunkStart(_header(job_id, row), row[5], row[6], counted=False, recorded=bool(row[7]))


def give_back_start(
    session: Session, *, job_id: uuid.UUID, index: int, worker: str | None = None
) -> None:
    """Un-count the last start of unrecorded chunk `index`, which its worker could not make
    (it did not load the chunk's kind) or cut off (it was stopping), so going to another
    worker does not use up one of its attempts. With `worker`, only a start by `worker`.
    """
    if worker is None:
        session.execute(_GIVE_BACK_START, {"b_job": job_id, "b_index": index})
    else:
        values = {"b_job": job_id, "b_index": index, "b_worker": worker}
        session.execute(_GIVE_BACK_OWN_START, values)


def _header(job_id: uuid.UUID, row: Any) -> JobHeader:
    return JobHeader(job_id, row[0], row[1], row[2], row[3], row[4])


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
    session: Session | Connection,
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
    connection = connection_of(session)
    values = {
        "b_job": job_id,
        "b_index": index,
        "b_partial": partial,
        "b_worker": worker,
        "b_hits": cache_hits,
        "b_cached": int(from_cache),
        "b_items": item_count,
    }
    row: Sequence[Any] | None
    if connection.dialect.name == "postgresql":
        row = connection.execute(_WRITE_AND_COUNT, values).one_or_none()
    elif _WRITING_PARTIAL.execute(connection, values).rowcount == 1:
        row = _COUNTING_CHUNK.execute(connection, values).rows[0]
    else:
        row = None
    if row is not None:
        return ChunkRecord(True, row[0], row[1], row[2])
    job = _READING_COUNTS.execute(connection, values).rows[0]
    return ChunkRecord(False, job[0], job[1], job[2])
