"""A job's callback_url over the API: refused at submit with 400 when webhooks may never
reach it, and shown with its delivery's state and attempts in GET /api/jobs/{id}."""

from __future__ import annotations

import uuid

import pytest

from chunkwise.engine.webhooks import Webhooks
from tests.api.in_process import Api, ServeInProcess, assert_error
from tests.api.test_metrics_and_ready import sample
from tests.webhooks.receiver import receiving

WEBHOOKS = {"webhook_secret": "k", "webhook_allow_private": True}


def submit_with_callback(api: Api, url: str) -> tuple[int, dict[str, object]]:
    body = {"kind": "sum_range", "params": {"n": 10}, "chunks": 2, "callback_url": url}
    response = api.http.post("/api/jobs", json=body)
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        (
            "http://169.254.169.254/latest/meta-data/",
            "callback_url: 169.254.169.254 is a cloud metadata address",
        ),
        ("http://[fe80::1]/hook", "callback_url: fe80::1 is a link-local address"),
        ("ftp://example.com/hook", "callback_url: only http and https URLs are accepted"),
        ("https://a:b@example.com/hook", "callback_url: the URL may not carry user:password"),
        (
            "http://localhost:9000/hook",
            "callback_url: localhost resolves to",
        ),
    ],
)
def test_a_callback_url_webhooks_may_not_reach_is_refused_at_submit(
    serve: ServeInProcess, url: str, detail: str
) -> None:
    with serve(webhook_secret="k") as api:
        response = api.http.post(
            "/api/jobs", json={"kind": "sum_range", "params": {"n": 10}, "callback_url": url}
        )
        assert_error(response, 400, detail, "callback_url")
        assert api.job_count() == 0


def test_without_a_secret_set_a_callback_is_taken_all_the_same(serve: ServeInProcess) -> None:
    # The workers sign with the key the store keeps (`chunkwise admin webhook-key`).
    with serve() as api:
        response = api.http.post(
            "/api/jobs",
            json={"kind": "sum_range", "params": {"n": 10}, "callback_url": "https://8.8.8.8/"},
        )
        assert response.status_code == 202, response.text
        assert api.job_count() == 1


def test_a_jobs_webhook_record_is_shown_and_kept_fresh_until_settled(
    serve: ServeInProcess,
) -> None:
    with receiving([200]) as receiver, serve(**WEBHOOKS) as api:
        status, accepted = submit_with_callback(api, receiver.url)
        assert status == 202
        job_id = uuid.UUID(str(accepted["job_id"]))
        waiting = api.http.get(f"/api/jobs/{job_id}").json()
        assert waiting["callback_url"] == receiver.url
        assert waiting["webhook"]["state"] == "waiting" and waiting["webhook"]["attempts"] == []

        api.compute_published()
        ended = api.http.get(f"/api/jobs/{job_id}")
        assert ended.json()["state"] == "SUCCESS"
        assert ended.headers["cache-control"] == "no-store"  # the delivery still moves
        assert ended.json()["webhook"]["state"] == "waiting"

        webhooks = Webhooks(api.settings, api.store, api.broker)
        assert webhooks.sweep() == 1
        webhooks.deliver(uuid.UUID(ended.json()["webhook"]["delivery_id"]))
        settled = api.http.get(f"/api/jobs/{job_id}")
        listed = api.http.get("/api/jobs").json()["items"]
        metrics = api.http.get("/metrics").text

    assert settled.headers["cache-control"] != "no-store"  # now it never changes
    webhook = settled.json()["webhook"]
    assert webhook["state"] == "delivered" and webhook["finished_at"] is not None
    [attempt] = webhook["attempts"]
    assert (attempt["number"], attempt["status_code"], attempt["error"]) == (1, 200, None)
    assert [(job["callback_url"], job["webhook"]) for job in listed] == [(receiver.url, None)]
    assert len(receiver.received) == 1
    assert sample(metrics, "chunkwise_webhook_deliveries", state="delivered") == 1
