"""A job as the service shows it: what `GET /api/jobs/{id}` answers and what a completion
webhook sends, built in one place so the two never differ."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from chunkwise.schemas import JobView, Progress, WebhookAttemptView, WebhookView
from chunkwise.store import Job, JobState
from chunkwise.store.models import utcnow
from chunkwise.store.progress import first_starts
from chunkwise.store.webhooks import DeliveryRecord


def job_view(
    job: Job, delivery: DeliveryRecord | None = None, *, first_start: datetime | None = None
) -> JobView:
    """The job's view; with `delivery`, its webhook's state and attempts too.

    `first_start` is when the first of a PENDING job's chunks was started (`job_starts`):
    the job then reads STARTED, from that time, until a chunk is recorded.
    """
    end = job.finished_at or utcnow()
    started = job.state is JobState.PENDING and first_start is not None
    return JobView(
        job_id=job.id,
        kind=job.kind,
        params=job.params,
        state=JobState.STARTED if started else job.state,
        progress=Progress(
            completed=job.completed_chunks, total=job.total_chunks, cached=job.cached_chunks
        ),
        cache=job.use_cache,
        result=job.result,
        error=job.error,
        created_at=job.created_at,
        started_at=first_start if started else job.started_at,
        finished_at=job.finished_at,
        duration_sec=round((end - job.created_at).total_seconds(), 3),
        callback_url=job.callback_url,
        webhook=None if delivery is None else webhook_view(delivery),
    )


def job_starts(session: Session, jobs: Sequence[Job]) -> dict[uuid.UUID, datetime]:
    """The first chunk starts `job_view` takes, read for the PENDING ones among `jobs`."""
    waiting = [job.id for job in jobs if job.state is JobState.PENDING]
    return first_starts(session, job_ids=waiting) if waiting else {}


def webhook_view(delivery: DeliveryRecord) -> WebhookView:
    return WebhookView(
        delivery_id=delivery.id,
        url=delivery.url,
        state=delivery.state,
        next_attempt_at=delivery.next_attempt_at,
        finished_at=delivery.finished_at,
        attempts=[
            WebhookAttemptView(
                number=attempt.number,
                at=attempt.started_at,
                duration_ms=round(attempt.duration_ms, 1),
                status_code=attempt.status_code,
                error=attempt.error,
            )
            for attempt in delivery.attempts
        ],
    )
