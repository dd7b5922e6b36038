"""Admission: a new job is refused while the unfinished work is at its bounds.

Without a bound, clients can queue more chunks than the broker's memory and the store
can hold, and every job already queued waits behind them. Refusing at the door costs a
client nothing but a retry (429 with Retry-After), and nothing of the refused job is
kept. The check runs in the transaction that creates the job: on SQLite that
transaction is the only writer, so the bound holds exactly; on PostgreSQL submits racing
each other may pass it by as many jobs as race.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from chunkwise.config import Settings
from chunkwise.errors import AdmissionRefusedError
from chunkwise.store import jobs


@dataclass(frozen=True)
class AdmissionBounds:
    """The most unfinished work the system takes on, and when a refused client should retry."""

    max_active_jobs: int
    max_queued_chunks: int
    retry_after_s: int
    max_active_jobs_per_user: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> AdmissionBounds:
        return cls(
            max_active_jobs=settings.max_active_jobs,
            max_queued_chunks=settings.max_queued_chunks,
            retry_after_s=settings.admission_retry_after_s,
            max_active_jobs_per_user=settings.max_active_jobs_per_user,
        )


def admit(
    session: Session, *, bounds: AdmissionBounds, chunks: int, owner_id: uuid.UUID | None = None
) -> None:
    """Return if a job of `chunks` chunks fits within `bounds` (and its owner's quota);
    AdmissionRefusedError if not."""
    work = jobs.unfinished_work(session)
    retry = f"retry in {bounds.retry_after_s} s"
    if owner_id is not None and bounds.max_active_jobs_per_user is not None:
        own = jobs.unfinished_jobs_of(session, owner_id=owner_id)
        if own >= bounds.max_active_jobs_per_user:
            raise AdmissionRefusedError(
                f"you have {own} unfinished jobs, and CHUNKWISE_MAX_ACTIVE_JOBS_PER_USER is "
                f"{bounds.max_active_jobs_per_user}; {retry}, or cancel one",
                retry_after_s=bounds.retry_after_s,
            )
    if work.jobs >= bounds.max_active_jobs:
        raise AdmissionRefusedError(
            f"too many unfinished jobs: {work.jobs}, and CHUNKWISE_MAX_ACTIVE_JOBS is "
            f"{bounds.max_active_jobs}; {retry}",
            retry_after_s=bounds.retry_after_s,
        )
    if work.chunks + chunks > bounds.max_queued_chunks:
        raise AdmissionRefusedError(
            f"too many queued chunks: {work.chunks} wait and this job adds {chunks}, past "
            f"CHUNKWISE_MAX_QUEUED_CHUNKS ({bounds.max_queued_chunks}); {retry}",
            retry_after_s=bounds.retry_after_s,
        )
