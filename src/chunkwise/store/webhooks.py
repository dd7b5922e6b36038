"""Completion webhooks in the store: each job's delivery, its state and every attempt.

A delivery is made with its job (`waiting`). Workers sweep: a waiting delivery whose job
has ended gets the job's final view as its body and becomes `pending`; a pending one whose
attempt is due is claimed by one sender until `claimed_until` and sent. An attempt is
recorded with its outcome: `delivered`, `pending` again with a later `next_attempt_at`, or
`failed` once the attempts or the retry window are used up. A sender that dies mid-attempt
leaves its claim to run out, and the delivery is claimed again: at least once.

Every time here is the database's (`clock.db_now`), as for leases: senders on several
hosts share one clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, Connection, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from chunkwise.store.clock import db_now
from chunkwise.store.models import (
    TERMINAL_STATES,
    Job,
    WebhookAttempt,
    WebhookDelivery,
)
from chunkwise.store.writes import connection_of, rows_changed

WAITING, PENDING, DELIVERED, FAILED = "waiting", "pending", "delivered", "failed"
SETTLED = (DELIVERED, FAILED)


@dataclass(frozen=True)
class DeliveryToSend:
    """What a sender needs for one attempt."""

    id: uuid.UUID
    job_id: uuid.UUID
    url: str
    body: str
    attempts: int
    """Attempts made before this one."""
    ended_at: datetime


@dataclass(frozen=True)
class AttemptRecord:
    number: int
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class DeliveryRecord:
    """A delivery and its attempts, as the API shows them."""

    id: uuid.UUID
    url: str
    state: str
    next_attempt_at: datetime | None
    finished_at: datetime | None
    attempts: list[AttemptRecord]

    @property
    def settled(self) -> bool:
        return self.state in SETTLED


def add_waiting_delivery(session: Session | Connection, *, job_id: uuid.UUID, url: str) -> None:
    """The delivery of a new job's end, made in the job's own transaction."""
    connection_of(session).execute(
        insert(WebhookDelivery).values(
            id=uuid.uuid4(),
            job_id=job_id,
            url=url,
            state=WAITING,
            attempts=0,
            next_attempt_at=db_now(),
            created_at=db_now(),
        )
    )


def ended_waiting(session: Session, *, limit: int) -> list[uuid.UUID]:
    """Jobs with a waiting delivery that have ended: their final view is to be fixed."""
    query = (
        select(WebhookDelivery.job_id)
        .join(Job, Job.id == WebhookDelivery.job_id)
        .where(WebhookDelivery.state == WAITING, Job.state.in_(sorted(TERMINAL_STATES)))
        .limit(limit)
    )
    return list(session.scalars(query))


def fix_body(session: Session, *, job_id: uuid.UUID, body: str) -> bool:
    """Make the job's delivery pending with `body`, due now; False if another sweep did."""
    result = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.job_id == job_id, WebhookDelivery.state == WAITING)
        .values(body=body, state=PENDING, next_attempt_at=db_now(), ended_at=db_now())
    )
    return rows_changed(result) == 1


def _due() -> tuple[ColumnElement[bool], ...]:
    return (
        WebhookDelivery.state == PENDING,
        WebhookDelivery.next_attempt_at <= db_now(),
        or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < db_now()),
    )


def due(session: Session, *, limit: int) -> list[uuid.UUID]:
    """Up to `limit` deliveries whose attempt is due and unclaimed: a read, so a sweep
    with nothing to do takes no write lock."""
    query = (
        select(WebhookDelivery.id)
        .where(*_due())
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def claim(session: Session, *, candidates: Sequence[uuid.UUID], hold_s: float) -> list[uuid.UUID]:
    """Claim those of `candidates` still due, for `hold_s` seconds each.

    Each is claimed by a guarded UPDATE, so of several sweeps at once only one sends it.
    """
    claimed = []
    for delivery_id in candidates:
        result = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, *_due())
            .values(claimed_until=db_now(hold_s))
        )
        if rows_changed(result) == 1:
            claimed.append(delivery_id)
    return claimed


def to_send(session: Session, *, delivery_id: uuid.UUID) -> DeliveryToSend | None:
    """The delivery to attempt now, or None when it is settled, gone or not yet fixed."""
    row = session.execute(
        select(
            WebhookDelivery.id,
            WebhookDelivery.job_id,
            WebhookDelivery.url,
            WebhookDelivery.body,
            WebhookDelivery.attempts,
            WebhookDelivery.ended_at,
        ).where(WebhookDelivery.id == delivery_id, WebhookDelivery.state == PENDING)
    ).one_or_none()
    if row is None or row.body is None or row.ended_at is None:
        return None
    return DeliveryToSend(row.id, row.job_id, row.url, row.body, row.attempts, row.ended_at)


Outcome = Literal["delivered", "retry", "failed"]


def record_attempt(
    session: Session,
    *,
    delivery_id: uuid.UUID,
    attempt: AttemptRecord,
    outcome: Outcome,
    retry_in_s: float = 0.0,
) -> None:
    """Record one attempt and move the delivery on: delivered, due again in `retry_in_s`,
    or given up. The claim is released either way."""
    session.execute(
        insert(WebhookAttempt).values(
            delivery_id=delivery_id,
            number=attempt.number,
            started_at=attempt.started_at,
            duration_ms=attempt.duration_ms,
            status_code=attempt.status_code,
            error=attempt.error,
        )
    )
    values: dict[str, object] = {"attempts": attempt.number, "claimed_until": None}
    if outcome == "retry":
        values.update(state=PENDING, next_attempt_at=db_now(retry_in_s))
    else:
        values.update(state=DELIVERED if outcome == "delivered" else FAILED, finished_at=db_now())
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.state == PENDING)
        .values(**values)
    )


def delivery_of(session: Session, *, job_id: uuid.UUID) -> DeliveryRecord | None:
    """The job's delivery with its attempts in order, or None if it has no callback."""
    delivery = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)
    ).one_or_none()
    if delivery is None:
        return None
    attempts = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery.id)
        .order_by(WebhookAttempt.number)
    ).all()
    return DeliveryRecord(
        id=delivery.id,
        url=delivery.url,
        state=delivery.state,
        next_attempt_at=delivery.next_attempt_at if delivery.state == PENDING else None,
        finished_at=delivery.finished_at,
        attempts=[
            AttemptRecord(a.number, a.started_at, a.duration_ms, a.status_code, a.error)
            for a in attempts
        ],
    )


def count_by_state(session: Session) -> dict[str, int]:
    """Deliveries kept, by state (for metrics: `failed` ones need a look)."""
    query = select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
    return {state: int(count) for state, count in session.execute(query)}


def delete_deliveries(session: Session, *, job_ids: Sequence[uuid.UUID]) -> None:
    """Remove the deliveries of jobs about to be deleted, attempts first."""
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.job_id.in_(job_ids))
    session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.job_id.in_(job_ids)))
