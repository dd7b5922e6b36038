"""Completion webhooks through the store and the engine, against a real receiver on
loopback: the sweep finds ended jobs and claims each attempt once, attempts are signed,
recorded and retried with backoff, and a delivery is given up in bounded attempts."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import func, select, update

from chunkwise.config import Settings
from chunkwise.engine.celery_app import webhook_queue
from chunkwise.engine.webhook_sender import signature
from chunkwise.engine.webhooks import DELIVER_WEBHOOK_TASK, RetryPolicy, Webhooks
from chunkwise.store import Store, jobs, retention
from chunkwise.store import webhooks as deliveries
from chunkwise.store.models import Job, WebhookAttempt, WebhookDelivery
from tests.webhooks.receiver import receiving

SECRET = "s3cret"


def settings(**overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "broker_url": "memory://",
        "webhook_secret": SECRET,
        "webhook_allow_private": True,
        "webhook_retry_base_s": 30.0,
        "webhook_timeout_s": 2.0,
    }
    return Settings(**(fields | overrides))


def job_with_callback(store: Store, url: str) -> uuid.UUID:
    with store.writer() as session:
        job = jobs.create_job(
            session,
            kind="sum_range",
            params={"start": 1, "end": 3},
            specs=[{"lo": 1, "hi": 3}],
            callback_url=url,
        )
    return job.id


def end_job(store: Store, job_id: uuid.UUID) -> None:
    with store.writer() as session:
        assert jobs.finish_job(session, job_id=job_id, result={"sum": 6})


def published(app: Celery) -> list[str]:
    """The delivery ids of the webhook tasks waiting in the queue, taken off it."""
    ids = []
    queue = webhook_queue(settings())
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            assert message.headers["task"] == DELIVER_WEBHOOK_TASK
            (delivery_id,), _, _ = message.decode()
            ids.append(delivery_id)
    return ids


def announced(webhooks: Webhooks, store: Store, app: Celery, url: str) -> tuple[uuid.UUID, str]:
    """A job with a callback to `url`, ended and swept: its id and its delivery's id."""
    job_id = job_with_callback(store, url)
    end_job(store, job_id)
    webhooks.sweep()
    [delivery_id] = published(app)
    return job_id, delivery_id


def record_of(store: Store, job_id: uuid.UUID) -> deliveries.DeliveryRecord:
    """The job's delivery with its attempts, as the store keeps it."""
    with store.reader() as session:
        record = deliveries.delivery_of(session, job_id=job_id)
    assert record is not None
    return record


@pytest.fixture
def app(memory_celery: Celery) -> Iterator[Celery]:
    published(memory_celery)
    yield memory_celery
    published(memory_celery)


def test_the_signature_is_the_hex_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"job_id":"x","state":"SUCCESS"}'
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert signature(SECRET, body) == f"sha256={expected}"
    assert signature("other", body) != signature(SECRET, body)


def test_retries_back_off_exponentially_and_end_within_the_window() -> None:
    policy = RetryPolicy(base_s=30, max_s=3600, max_attempts=12, window_s=86400)
    assert [policy.delay_s(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert policy.delay_s(11) == 3600
    ended = datetime(2026, 1, 1, tzinfo=UTC)
    assert policy.after_failure(1, ended_at=ended, now=ended) == ("retry", 30)
    assert policy.after_failure(12, ended_at=ended, now=ended) == ("failed", 0.0)
    late = ended + timedelta(hours=23, minutes=59)
    assert policy.after_failure(3, ended_at=ended, now=late) == ("failed", 0.0)


def test_the_default_attempts_fit_in_a_day() -> None:
    policy = RetryPolicy.from_settings(Settings())
    waits = sum(policy.delay_s(n) for n in range(1, policy.max_attempts))
    assert 12 * 3600 < waits <= policy.window_s == 86400


def test_a_delivery_waits_for_its_job_then_is_claimed_once(store: Store, app: Celery) -> None:
    webhooks = Webhooks(settings(), store, app)
    job_id = job_with_callback(store, "http://127.0.0.1:9/hook")
    assert webhooks.sweep() == 0  # the job runs
    end_job(store, job_id)

    assert webhooks.sweep() == 1
    assert Webhooks(settings(), store, app).sweep() == 0  # claimed: no second sender
    [delivery_id] = published(app)
    with store.reader() as session:
        record = deliveries.delivery_of(session, job_id=job_id)
        body = session.scalar(select(WebhookDelivery.body))
    assert record is not None and (str(record.id), record.state) == (delivery_id, "pending")
    sent = json.loads(body or "")
    assert (sent["job_id"], sent["state"], sent["result"]) == (str(job_id), "SUCCESS", {"sum": 6})
    assert "webhook" not in sent


def test_a_claim_that_runs_out_is_taken_again(store: Store, app: Celery) -> None:
    webhooks = Webhooks(settings(), store, app)
    job_id = job_with_callback(store, "http://127.0.0.1:9/hook")
    end_job(store, job_id)
    assert webhooks.sweep() == 1
    with store.writer() as session:  # the sender died mid-attempt; its claim ran out
        session.execute(
            update(WebhookDelivery).values(claimed_until=datetime(2000, 1, 1, tzinfo=UTC))
        )
    assert webhooks.sweep() == 1
    assert len(published(app)) == 2


def test_a_failed_attempt_is_recorded_and_retried_then_delivered(store: Store, app: Celery) -> None:
    with receiving([500, 204]) as receiver:
        webhooks = Webhooks(settings(webhook_retry_base_s=0.01), store, app)
        job_id, delivery_id = announced(webhooks, store, app, receiver.url)

        webhooks.deliver(uuid.UUID(delivery_id))
        first = record_of(store, job_id)
        assert first.state == "pending"
        assert first.next_attempt_at is not None
        webhooks.deliver(uuid.UUID(delivery_id))
        webhooks.deliver(uuid.UUID(delivery_id))  # a duplicate message: settled, nothing sent

    record = record_of(store, job_id)
    assert record.state == "delivered" and record.finished_at is not None
    assert [(a.number, a.status_code, a.error) for a in record.attempts] == [
        (1, 500, "HTTP 500"),
        (2, 204, None),
    ]
    assert len(receiver.received) == 2
    for number, request in enumerate(receiver.received, start=1):
        expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Chunkwise-Signature"] == f"sha256={expected}"
        assert request.headers["X-Chunkwise-Delivery"] == delivery_id
        assert request.headers["X-Chunkwise-Attempt"] == str(number)
        assert request.headers["Content-Type"] == "application/json"
        assert request.path == "/hooks/chunkwise?source=test"
    assert receiver.received[0].body == receiver.received[1].body  # the same signed bytes


def test_a_delivery_is_given_up_after_its_attempts(store: Store, app: Celery) -> None:
    with receiving([503]) as receiver:
        webhooks = Webhooks(settings(webhook_max_attempts=2, webhook_retry_base_s=0.01), store, app)
        job_id, delivery_id = announced(webhooks, store, app, receiver.url)
        for _ in range(3):
            webhooks.deliver(uuid.UUID(delivery_id))
    record = record_of(store, job_id)
    assert record.state == "failed"
    assert [a.status_code for a in record.attempts] == [503, 503]
    assert len(receiver.received) == 2


def test_a_redirect_is_not_followed(store: Store, app: Celery) -> None:
    with receiving([302], redirect_to="http://169.254.169.254/latest/meta-data/") as receiver:
        webhooks = Webhooks(settings(), store, app)
        job_id, delivery_id = announced(webhooks, store, app, receiver.url)
        webhooks.deliver(uuid.UUID(delivery_id))
    record = record_of(store, job_id)
    [attempt] = record.attempts
    assert attempt.status_code == 302 and "not followed" in (attempt.error or "")
    assert len(receiver.received) == 1


def test_an_address_refused_at_delivery_is_never_contacted(store: Store, app: Celery) -> None:
    with receiving([200]) as receiver:
        job_id = job_with_callback(store, receiver.url)  # allowed when it was submitted
        end_job(store, job_id)
        webhooks = Webhooks(settings(webhook_allow_private=False), store, app)
        webhooks.sweep()
        [delivery_id] = published(app)
        webhooks.deliver(uuid.UUID(delivery_id))
    record = record_of(store, job_id)
    [attempt] = record.attempts
    assert attempt.status_code is None and "loopback" in (attempt.error or "")
    assert receiver.received == []


def test_a_receiver_that_never_answers_times_out(store: Store, app: Celery) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        webhooks = Webhooks(settings(webhook_timeout_s=0.3), store, app)
        job_id, delivery_id = announced(webhooks, store, app, url)
        webhooks.deliver(uuid.UUID(delivery_id))
    record = record_of(store, job_id)
    assert record.state == "pending"
    [attempt] = record.attempts
    assert attempt.status_code is None and attempt.error == "no answer within 0.3 s"


def test_retention_removes_a_jobs_delivery_and_attempts(store: Store, app: Celery) -> None:
    with receiving([200]) as receiver:
        webhooks = Webhooks(settings(), store, app)
        _, delivery_id = announced(webhooks, store, app, receiver.url)
        webhooks.deliver(uuid.UUID(delivery_id))
    with store.writer() as session:
        session.execute(update(Job).values(finished_at=datetime(2000, 1, 1, tzinfo=UTC)))
    with store.writer() as session:
        removed = retention.expire_finished_jobs(
            session, older_than=datetime(2001, 1, 1, tzinfo=UTC), limit=10
        )
    assert removed == 1
    with store.reader() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
        assert session.scalar(select(func.count()).select_from(WebhookAttempt)) == 0
