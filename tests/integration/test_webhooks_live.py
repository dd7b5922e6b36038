"""Completion webhooks on a running system: real workers deliver the final view of each
job, signed; a receiver that fails the first attempt gets the second; every attempt is
recorded in GET /api/jobs/{id}; a callback to the metadata service is refused at submit."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.live import WEBHOOK_SECRET, LiveSystem, live_system
from tests.waiting import wait_for
from tests.webhooks.receiver import Received, receiving

pytestmark = pytest.mark.integration


def verified(request: Received) -> dict[str, Any]:
    """The body of a delivery whose signature checks out, decoded."""
    expected = hmac.new(WEBHOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Chunkwise-Signature"], f"sha256={expected}")
    body: dict[str, Any] = json.loads(request.body)
    return body


def settled_webhook(live: LiveSystem, job_id: str) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        webhook: dict[str, Any] = live.job(job_id)["webhook"]
        return webhook if webhook["state"] in ("delivered", "failed") else None

    return wait_for(settled, timeout_s=30, what=f"the webhook of job {job_id} to settle")


def test_a_webhook_that_fails_first_is_delivered_on_the_second_attempt(live: LiveSystem) -> None:
    with receiving([500, 200]) as receiver:
        body = {
            "kind": "sum_range",
            "params": {"n": 100_000},
            "chunks": 4,
            "callback_url": receiver.url,
        }
        response = live.http.post("/api/jobs", json=body)
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]

        first, second = wait_for(lambda: receiver.got(2), timeout_s=30, what="two attempts")
        webhook = settled_webhook(live, job_id)

    sent = verified(second)
    assert verified(first) == sent and first.body == second.body
    assert (sent["job_id"], sent["state"], sent["result"]["sum"]) == (
        job_id,
        "SUCCESS",
        100_000 * 100_001 // 2,
    )
    assert sent["callback_url"] == receiver.url and "webhook" not in sent
    delivery = first.headers["X-Chunkwise-Delivery"]
    assert second.headers["X-Chunkwise-Delivery"] == delivery == webhook["delivery_id"]
    assert [r.headers["X-Chunkwise-Attempt"] for r in (first, second)] == ["1", "2"]
    assert webhook["state"] == "delivered"
    assert [(a["number"], a["status_code"]) for a in webhook["attempts"]] == [(1, 500), (2, 200)]
    assert len(receiver.received) == 2


def test_a_cancelled_job_announces_its_end(live: LiveSystem) -> None:
    with receiving([204]) as receiver:
        body = {
            "kind": "prime_count",
            "params": {"n": 10**11, "method": "sieve"},
            "chunks": 64,
            "callback_url": receiver.url,
        }
        response = live.http.post("/api/jobs", params={"cache": "false"}, json=body)
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        assert live.http.post(f"/api/jobs/{job_id}/cancel").json()["state"] == "CANCELLED"

        [request] = wait_for(lambda: receiver.got(1), timeout_s=30, what="the webhook")
        webhook = settled_webhook(live, job_id)

    sent = verified(request)
    assert (sent["job_id"], sent["state"], sent["result"]) == (job_id, "CANCELLED", None)
    assert webhook["state"] == "delivered" and len(webhook["attempts"]) == 1


def test_a_callback_to_the_metadata_address_is_refused_at_submit(live: LiveSystem) -> None:
    before = live.http.get("/api/jobs").json()["total"]
    response = live.http.post(
        "/api/jobs",
        json={
            "kind": "sum_range",
            "params": {"n": 10},
            "callback_url": "http://169.254.169.254/latest/meta-data/iam/",
        },
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "callback_url: 169.254.169.254 is a cloud metadata address",
        "field": "callback_url",
    }
    assert live.http.get("/api/jobs").json()["total"] == before


def test_up_signs_with_the_key_the_store_keeps_when_none_is_set(tmp_path: Path) -> None:
    with (
        receiving([200]) as receiver,
        live_system(tmp_path, workers=1, extra_env={"CHUNKWISE_WEBHOOK_SECRET": ""}) as system,
    ):
        body = {"kind": "sum_range", "params": {"n": 10}, "callback_url": receiver.url}
        response = system.http.post("/api/jobs", json=body)
        assert response.status_code == 202, response.text
        [request] = wait_for(lambda: receiver.got(1), timeout_s=30, what="the webhook")
    shown = subprocess.run(
        [sys.executable, "-m", "chunkwise", "admin", "webhook-key"],
        env={**os.environ, "CHUNKWISE_DATABASE_URL": f"sqlite:///{tmp_path / 'chunkwise.db'}"},
        capture_output=True,
        text=True,
        check=True,
    )
    key = shown.stdout.strip()
    expected = hmac.new(key.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Chunkwise-Signature"] == f"sha256={expected}"
