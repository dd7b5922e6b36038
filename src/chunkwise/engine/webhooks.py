"""Completion webhooks through the engine: a worker duty finds what is due, and a Celery
task of its own makes each attempt.

The sweep (every CHUNKWISE_WEBHOOK_SWEEP_S on each worker node) fixes the final view of
jobs that have ended and claims the attempts that are due, publishing one task per claimed
delivery. The task POSTs and records the attempt. Delivery goes on a queue of its own
(`webhook_queue`), so a slow receiver never stands in front of a chunk in the chunk
queue, and the chunk that ends a job never waits for the POST.

Retries back off exponentially (CHUNKWISE_WEBHOOK_RETRY_BASE_S, doubling, capped at
WEBHOOK_RETRY_MAX_S) for at most WEBHOOK_MAX_ATTEMPTS attempts and no later than
WEBHOOK_RETRY_WINDOW_S after the job ended.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from celery import Celery, Task

from chunkwise.config import Settings
from chunkwise.engine.celery_app import webhook_queue
from chunkwise.engine.job_views import job_view
from chunkwise.engine.webhook_sender import WebhookSender
from chunkwise.schemas import JobView
from chunkwise.store import Store, jobs
from chunkwise.store import webhooks as deliveries
from chunkwise.store.kept_secrets import WEBHOOK_KEY, setting_or_kept
from chunkwise.store.webhooks import AttemptRecord, Outcome

log = logging.getLogger(__name__)

DELIVER_WEBHOOK_TASK = "chunkwise.deliver_webhook"
SWEEP_BATCH = 100
CLAIM_MARGIN_S = 30.0
"""A claim outlasts an attempt's timeout by this much before another sender may retry."""


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float
    max_s: float
    max_attempts: int
    window_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            base_s=settings.webhook_retry_base_s,
            max_s=settings.webhook_retry_max_s,
            max_attempts=settings.webhook_max_attempts,
            window_s=settings.webhook_retry_window_s,
        )

    def delay_s(self, attempts_made: int) -> float:
        """The wait after the `attempts_made`-th failed attempt: base, 2 x base, ..."""
        return float(min(self.base_s * 2 ** (attempts_made - 1), self.max_s))

    def after_failure(
        self, attempts_made: int, *, ended_at: datetime, now: datetime
    ) -> tuple[Outcome, float]:
        """Retry in how many seconds, or give up."""
        delay = self.delay_s(attempts_made)
        too_late = now + timedelta(seconds=delay) > ended_at + timedelta(seconds=self.window_s)
        if attempts_made >= self.max_attempts or too_late:
            return "failed", 0.0
        return "retry", delay


class Webhooks:
    """The sweep and the attempt, on one store and one Celery app."""

    def __init__(self, settings: Settings, store: Store, app: Celery) -> None:
        self.store = store
        self.app = app
        self.queue = webhook_queue(settings)
        self.sender = WebhookSender(
            secret=setting_or_kept(
                store, given=settings.webhook_secret, name=WEBHOOK_KEY, legacy_dir=settings.data_dir
            ),
            timeout_s=settings.webhook_timeout_s,
            allow_private=settings.webhook_allow_private,
        )
        self.policy = RetryPolicy.from_settings(settings)
        self.hold_s = settings.webhook_timeout_s + CLAIM_MARGIN_S

    def sweep(self) -> int:
        """Fix the bodies of ended jobs' deliveries, then publish the attempts due; how
        many were published. Reads first, so an idle sweep takes no write lock."""
        with self.store.reader() as session:
            ended = deliveries.ended_waiting(session, limit=SWEEP_BATCH)
        for job_id in ended:
            self._fix_body(job_id)
        with self.store.reader() as session:
            candidates = deliveries.due(session, limit=SWEEP_BATCH)
        if not candidates:
            return 0
        with self.store.writer() as session:
            claimed = deliveries.claim(session, candidates=candidates, hold_s=self.hold_s)
        for delivery_id in claimed:
            # A publish that fails leaves the claim to run out; a later sweep sends it.
            self.app.send_task(DELIVER_WEBHOOK_TASK, args=[str(delivery_id)], queue=self.queue)
        return len(claimed)

    def _fix_body(self, job_id: uuid.UUID) -> None:
        with self.store.writer() as session:
            job = jobs.get_job(session, job_id=job_id)
            if job is None:
                return
            body = final_body(job_view(job))
            deliveries.fix_body(session, job_id=job_id, body=body)

    def deliver(self, delivery_id: uuid.UUID) -> None:
        """Make one attempt at the delivery and record it (nothing if it is settled)."""
        with self.store.reader() as session:
            delivery = deliveries.to_send(session, delivery_id=delivery_id)
        if delivery is None:
            return
        number = delivery.attempts + 1
        started_at = datetime.now(UTC)
        result = self.sender.attempt(
            url=delivery.url,
            body=delivery.body.encode(),
            delivery_id=str(delivery.id),
            number=number,
        )
        if result.delivered:
            outcome: Outcome = "delivered"
            retry_in_s = 0.0
        else:
            outcome, retry_in_s = self.policy.after_failure(
                number, ended_at=delivery.ended_at, now=datetime.now(UTC)
            )
            log.warning(
                "webhook of job %s, attempt %d: %s%s",
                delivery.job_id,
                number,
                result.error,
                f"; retry in {retry_in_s:g} s" if outcome == "retry" else "; given up",
            )
        attempt = AttemptRecord(
            number, started_at, result.duration_ms, result.status_code, result.error
        )
        with self.store.writer() as session:
            deliveries.record_attempt(
                session,
                delivery_id=delivery.id,
                attempt=attempt,
                outcome=outcome,
                retry_in_s=retry_in_s,
            )


def final_body(view: JobView) -> str:
    """The webhook body: the job's final view, as GET /api/jobs/{id} shows it, without the
    webhook's own record (which the delivery itself changes)."""
    return view.model_dump_json(exclude={"webhook"})


def register_webhook_task(app: Celery, webhooks: Webhooks) -> Task:
    """Register the delivery task on `app`. acks_late: a worker that dies mid-attempt
    leaves the message, and the claim, to be taken again."""

    @app.task(  # type: ignore[untyped-decorator]
        name=DELIVER_WEBHOOK_TASK, shared=False, acks_late=True, ignore_result=True
    )
    def deliver_webhook(delivery_id: str) -> None:
        webhooks.deliver(uuid.UUID(delivery_id))

    return deliver_webhook
