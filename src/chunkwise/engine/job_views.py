"""A job as the service shows it: what `GET /api/jobs/{id}` answers and what a completion
webhook sends, built in one place so the two never differ."""

from __future__ import annotations

from chunkwise.schemas import JobView, Progress, WebhookAttemptView, WebhookView
from chunkwise.store import Job
from chunkwise.store.models import utcnow
from chunkwise.store.webhooks import DeliveryRecord


def job_view(job: Job, delivery: DeliveryRecord | None = None) -> JobView:
    """The job's view; with `delivery`, its webhook's state and attempts too."""
    end = job.finished_at or utcnow()
    return JobView(
        job_id=job.id,
        kind=job.kind,
        params=job.params,
        state=job.state,
        progress=Progress(
            completed=job.completed_chunks, total=job.total_chunks, cached=job.cached_chunks
        ),
        cache=job.use_cache,
        result=job.result,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        duration_sec=round((end - job.created_at).total_seconds(), 3),
        callback_url=job.callback_url,
        webhook=None if delivery is None else webhook_view(delivery),
    )


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
