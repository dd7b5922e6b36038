"""Retention: finished jobs expire after a while, leaving a tombstone that says when.

Every worker may sweep at the same moment, so each step is safe to repeat and to race:
the jobs a sweep takes are locked (PostgreSQL skips rows another sweep holds; SQLite
writers take turns), a tombstone already written is left alone, and a job is deleted
only while it is still finished.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from chunkwise.store import webhooks
from chunkwise.store.batching import batches
from chunkwise.store.jobs import JOB_ENDED
from chunkwise.store.models import Chunk, ExpiredJob, Job, utcnow
from chunkwise.store.writes import insert_ignoring_conflicts, rows_changed


def _expired(older_than: datetime) -> tuple[ColumnElement[bool], ...]:
    return (JOB_ENDED, Job.finished_at < older_than)


def has_expired_jobs(session: Session, *, older_than: datetime) -> bool:
    """Whether any finished job ended before `older_than`; cheap, for a read-only session."""
    query = select(Job.id).where(*_expired(older_than)).limit(1)
    return session.scalar(query) is not None


def expire_finished_jobs(session: Session, *, older_than: datetime, limit: int) -> int:
    """Replace up to `limit` jobs that finished before `older_than` by tombstones.

    Returns how many jobs this call removed; call again (in a new transaction) while it
    returns `limit`.
    """
    rows = session.execute(
        select(Job.id, Job.kind, Job.finished_at, Job.owner_id, Job.demo)
        .where(*_expired(older_than))
        .order_by(Job.finished_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return 0
    now = utcnow()
    tombstones = [
        {
            "id": job_id,
            "kind": kind,
            "finished_at": finished_at,
            "expired_at": now,
            "owner_id": owner_id,
            "demo": demo,
        }
        for job_id, kind, finished_at, owner_id, demo in rows
    ]
    insert = insert_ignoring_conflicts(ExpiredJob, session.get_bind().dialect.name)
    for batch in batches(tombstones, columns=len(tombstones[0])):
        session.execute(insert.values(batch))
    removed = 0
    for ids in batches(row[0] for row in rows):
        webhooks.delete_deliveries(session, job_ids=ids)
        session.execute(delete(Chunk).where(Chunk.job_id.in_(ids)))
        result = session.execute(delete(Job).where(Job.id.in_(ids), JOB_ENDED))
        removed += rows_changed(result)
    return removed


def expired_job(session: Session, *, job_id: uuid.UUID) -> ExpiredJob | None:
    """The tombstone of an expired job, if it expired (and was not purged since)."""
    return session.get(ExpiredJob, job_id)


def purge_tombstones(session: Session, *, older_than: datetime, limit: int) -> int:
    """Delete up to `limit` tombstones written before `older_than`; returns how many."""
    oldest = (
        select(ExpiredJob.id)
        .where(ExpiredJob.expired_at < older_than)
        .order_by(ExpiredJob.expired_at)
        .limit(limit)
    )
    removed = 0
    for ids in batches(session.scalars(oldest).all()):
        result = session.execute(delete(ExpiredJob).where(ExpiredJob.id.in_(ids)))
        removed += rows_changed(result)
    return removed
