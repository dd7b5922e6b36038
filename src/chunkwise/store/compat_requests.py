"""Requests of the seed surfaces that name a job by what was asked rather than by its id:
seed 004 answers the same range with the same job while that job is kept."""

from __future__ import annotations

import uuid

from sqlalchemy import delete
from sqlalchemy.orm import Session

from chunkwise.store.models import CompatRequest
from chunkwise.store.writes import insert_ignoring_conflicts


def job_for(session: Session, *, key: str) -> uuid.UUID | None:
    """The job the request `key` made, if one did."""
    found = session.get(CompatRequest, key)
    return None if found is None else found.job_id


def remember(session: Session, *, key: str, job_id: uuid.UUID) -> None:
    """Name `job_id` as the answer to `key` (replacing a job that is gone)."""
    session.execute(delete(CompatRequest).where(CompatRequest.key == key))
    insert = insert_ignoring_conflicts(CompatRequest, session.get_bind().dialect.name)
    session.execute(insert.values(key=key, job_id=job_id))
