"""What the seed surfaces keep beside the jobs: requests that name a job by what they asked
(seed 004 answers the same range with the same job while that job is kept), and seed
003's integer task ids, which its clients expect where chunkwise has UUIDs."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from chunkwise.store.models import CompatRequest, CompatTask
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


def new_task_id(session: Session, *, job_id: uuid.UUID, task_type: str) -> int:
    """A new integer id naming `job_id`, as seed 003's task ids are."""
    result = session.execute(
        insert(CompatTask).values(job_id=job_id, task_type=task_type).returning(CompatTask.id)
    )
    return int(result.scalar_one())


def task_job(session: Session, *, task_id: int) -> tuple[uuid.UUID, str] | None:
    """The job and task type an integer task id names."""
    row = session.execute(
        select(CompatTask.job_id, CompatTask.task_type).where(CompatTask.id == task_id)
    ).one_or_none()
    return None if row is None else (row[0], row[1])
