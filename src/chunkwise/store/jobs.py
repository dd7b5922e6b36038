"""A job's life in the store: created with its chunks, read and listed, ended once, deleted.

A job ends once: SUCCESS, FAILURE and CANCELLED each move only a job that has not ended
(`JOB_RUNNING`), so whichever ending commits first stands and the others report False.
Recording chunks (`store.recording`) carries the same condition, which is what keeps an
ended job's counts and result still. Functions take the session first and keywords after.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Select,
    String,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from chunkwise.store import webhooks
from chunkwise.store.clock import db_now
from chunkwise.store.driver_statements import DriverStatement
from chunkwise.store.models import (
    TERMINAL_STATES,
    UNFINISHED_STATES,
    Chunk,
    Job,
    JobState,
    UTCDateTime,
)
from chunkwise.store.progress import shown_state_in
from chunkwise.store.writes import connection_of

JOB_RUNNING = Job.state.not_in(sorted(TERMINAL_STATES))
"""SQL: the job has not ended; every write that must leave an ended job alone carries it."""
JOB_ENDED = Job.state.in_(sorted(TERMINAL_STATES))
"""SQL: the job has ended (SUCCESS, FAILURE or CANCELLED)."""
JOB_RUNNING_BOUND = and_(*(Job.state != state for state in sorted(TERMINAL_STATES)))
"""`JOB_RUNNING` spelled without NOT IN, for statements built once: a list of values is an
expanding parameter, which SQLAlchemy renders anew on every execution; these are plain
binds."""


_CREATING_JOB = DriverStatement(
    insert(Job)
    .values(
        id=bindparam("b_id"),
        kind=bindparam("b_kind"),
        params=bindparam("b_params"),
        state=JobState.PENDING,
        total_chunks=bindparam("b_total"),
        completed_chunks=0,
        cached_chunks=0,
        use_cache=bindparam("b_use_cache"),
        owner_id=bindparam("b_owner", type_=Job.__table__.c.owner_id.type),
        demo=bindparam("b_demo", type_=Boolean()),
        priority=bindparam("b_priority", type_=String(8)),
        callback_url=bindparam("b_callback", type_=String(2048)),
        created_at=func.coalesce(bindparam("b_created", type_=UTCDateTime()), db_now()),
    )
    .returning(Job.created_at)
)
"""Built once, and stamped with the time in the same statement: the API holds SQLite's
write lock while a job is created, and workers wait for that lock to record. The time is
the database's (`db_now`), but on SQLite Python's reading of the same host clock, which has
microseconds where SQLite's has milliseconds (see `clock.database_now`)."""


def create_job(
    session: Session | Connection,
    *,
    kind: str,
    params: dict[str, Any],
    specs: Sequence[dict[str, Any]],
    use_cache: bool = True,
    owner_id: uuid.UUID | None = None,
    demo: bool = False,
    priority: str | None = None,
    callback_url: str | None = None,
) -> Job:
    """Add a PENDING job and its chunks (and its webhook delivery, waiting for the end,
    when it has a `callback_url`); the caller's transaction commits them.

    The Job returned is a snapshot of the new row, not attached to any session.
    """
    connection = connection_of(session)
    job_id = uuid.uuid4()
    values = {
        "b_id": job_id,
        "b_kind": kind,
        "b_params": params,
        "b_total": len(specs),
        "b_use_cache": use_cache,
        "b_owner": owner_id,
        "b_demo": demo,
        "b_priority": priority,
        "b_callback": callback_url,
        "b_created": datetime.now(UTC) if connection.dialect.name == "sqlite" else None,
    }
    created_at = _CREATING_JOB.execute(connection, values).rows[0][0]
    # One executemany, not a unit of work per chunk.
    rows = [{"job_id": job_id, "idx": i, "spec": spec} for i, spec in enumerate(specs)]
    connection.execute(insert(Chunk), rows)
    if callback_url is not None:
        webhooks.add_waiting_delivery(connection, job_id=job_id, url=callback_url)
    return Job(
        id=job_id,
        kind=kind,
        params=params,
        state=JobState.PENDING,
        total_chunks=len(specs),
        completed_chunks=0,
        cached_chunks=0,
        use_cache=use_cache,
        owner_id=owner_id,
        demo=demo,
        priority=priority,
        callback_url=callback_url,
        result=None,
        error=None,
        created_at=created_at,
        started_at=None,
        finished_at=None,
    )


def get_job(session: Session, *, job_id: uuid.UUID) -> Job | None:
    return session.get(Job, job_id)


@dataclass(frozen=True)
class Visible:
    """Which jobs a list shows: one owner's (or everyone's when `owner_id` is None), and
    either the demo jobs or the others, never both."""

    owner_id: uuid.UUID | None = None
    demo: bool = False


EVERYONES = Visible()
"""Every job but the demo ones: what accounts off, or an admin, see."""


def _filtered(
    query: Select[Any], states: Sequence[JobState], kinds: Sequence[str], visible: Visible
) -> Select[Any]:
    query = query.where(Job.demo.is_(visible.demo))
    if visible.owner_id is not None:
        query = query.where(Job.owner_id == visible.owner_id)
    if states:  # as shown: a PENDING row with a chunk started is STARTED (store.progress)
        query = query.where(shown_state_in(states))
    if kinds:
        query = query.where(Job.kind.in_(sorted(kinds)))
    return query


def list_jobs(
    session: Session,
    *,
    limit: int,
    offset: int,
    states: Sequence[JobState] = (),
    kinds: Sequence[str] = (),
    visible: Visible = EVERYONES,
) -> list[Job]:
    """Jobs newest first, only those in `states` and of `kinds` when given."""
    query = _filtered(select(Job), states, kinds, visible)
    query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def count_jobs(
    session: Session,
    *,
    states: Sequence[JobState] = (),
    kinds: Sequence[str] = (),
    visible: Visible = EVERYONES,
) -> int:
    """How many jobs `list_jobs` pages through with the same filters."""
    query = _filtered(select(func.count()).select_from(Job), states, kinds, visible)
    return session.scalar(query) or 0


def unfinished_jobs_of(session: Session, *, owner_id: uuid.UUID) -> int:
    """How many of the user's jobs have not ended: what the per-user quota weighs."""
    query = select(func.count()).where(
        Job.owner_id == owner_id, Job.state.in_(sorted(UNFINISHED_STATES))
    )
    return session.scalar(query) or 0


def list_chunks(session: Session, *, job_id: uuid.UUID) -> list[Chunk]:
    return list(session.scalars(select(Chunk).where(Chunk.job_id == job_id).order_by(Chunk.index)))


def delete_job(session: Session, *, job_id: uuid.UUID) -> None:
    webhooks.delete_deliveries(session, job_ids=[job_id])
    session.connection().execute(delete(Chunk).where(Chunk.job_id == job_id))
    session.connection().execute(delete(Job).where(Job.id == job_id))


def finish_job(session: Session | Connection, *, job_id: uuid.UUID, result: dict[str, Any]) -> bool:
    """Store the result and move the job to SUCCESS, once; False if it had already ended."""
    return _end_job(session, job_id=job_id, state=JobState.SUCCESS, result=result)


def fail_job(session: Session | Connection, *, job_id: uuid.UUID, error: str) -> bool:
    """Move the job to FAILURE with its error, once; False if it had already ended."""
    return _end_job(session, job_id=job_id, state=JobState.FAILURE, error=error)


def cancel_job(session: Session, *, job_id: uuid.UUID) -> bool:
    """Move the job to CANCELLED, once; False if it had already ended (or does not exist)."""
    return _end_job(session, job_id=job_id, state=JobState.CANCELLED)


_END_JOB = DriverStatement(
    update(Job)
    .where(Job.id == bindparam("b_job"), JOB_RUNNING_BOUND)
    .values(
        state=bindparam("b_state"),
        finished_at=db_now(),
        started_at=func.coalesce(Job.started_at, db_now()),
        result=bindparam("b_result"),
        error=bindparam("b_error"),
    )
)
"""Built once: the chunk that completes a job ends it on the per-chunk path. Both clocks
read the statement's one time (SQLite's 'now' and PostgreSQL's statement_timestamp())."""


def _end_job(
    session: Session | Connection,
    *,
    job_id: uuid.UUID,
    state: JobState,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> bool:
    values = {"b_job": job_id, "b_state": state, "b_result": result, "b_error": error}
    return _END_JOB.execute(connection_of(session), values).rowcount == 1


def unrecorded_indices(session: Session, *, job_id: uuid.UUID) -> list[int]:
    """Indices of the job's chunks that have no partial yet: what an ended job revokes."""
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
_UNFINISHED_WORK = select(
    func.count(), func.coalesce(func.sum(Job.total_chunks - Job.completed_chunks), 0)
).where(Job.state.in_(sorted(UNFINISHED_STATES)))


def unfinished_work(session: Session) -> UnfinishedWork:
    """How many jobs are unfinished and how many of their chunks are unrecorded, in one query."""
    job_count, chunk_count = session.execute(_UNFINISHED_WORK).one()
    return UnfinishedWork(jobs=int(job_count), chunks=int(chunk_count))
