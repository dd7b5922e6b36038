"""Seed 001's README examples and its Try-it widget's calls, against a live chunkwise."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.compat.conftest import access_token, curl_examples
from tests.live import LiveSystem
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

SECTION = "Seed 001: Distributed Background Computation"
FIELDS = {"job_id", "status", "progress", "completed_chunks", "total_chunks", "result", "detail"}


def completed(get: Any) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = get().json()
        return body if body["status"] in ("completed", "failed") else None

    return wait_for(done, timeout_s=60, interval_s=0.02, what="the job to complete")


def test_the_readme_examples_sum_to_50005000_and_500500(compat_live: LiveSystem) -> None:
    submit, status, demo_submit, demo_status, idempotent = curl_examples(SECTION)
    token = access_token(compat_live)
    for create, read, total, expected in (
        (submit, status, 8, 50_005_000),
        (demo_submit, demo_status, 4, 500_500),
    ):
        accepted = create.send(compat_live.api_url, token=token)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["status"] == "pending"
        job_id = accepted.json()["job_id"]
        job = completed(lambda: read.send(compat_live.api_url, job_id, token))  # noqa: B023
        assert set(job) == FIELDS
        assert job["status"] == "completed" and job["progress"] == 1.0
        assert job["completed_chunks"] == job["total_chunks"] == total
        assert job["result"] == expected
        assert job["detail"] == "Computation finished successfully."
    first = idempotent.send(compat_live.api_url, token=token)
    again = idempotent.send(compat_live.api_url, token=token)
    assert first.status_code == again.status_code == 202
    assert first.json()["job_id"] == again.json()["job_id"]


def test_the_try_it_widget_under_v1_and_the_navbar_health(compat_live: LiveSystem) -> None:
    base = compat_live.api_url
    # components/TryItDemo.tsx: GET /healthz, POST /v1/jobs/demo {n: 1000, chunks: 4}, then
    # GET /v1/jobs/demo/{job_id} every second until completed or failed.
    assert httpx.get(f"{base}/healthz").status_code == 200
    created = httpx.post(f"{base}/v1/jobs/demo", json={"n": 1000, "chunks": 4})
    assert created.status_code == 202 and created.json()["status"] == "pending"
    job_id = created.json()["job_id"]
    job = completed(lambda: httpx.get(f"{base}/v1/jobs/demo/{job_id}"))
    assert job["result"] == 500_500 and round(job["progress"] * 100) == 100
    assert httpx.get(f"{base}/monitoring/health").json()["status"] == "healthy"
    assert httpx.get(f"{base}/v1/monitoring/health").status_code == 200


def test_a_running_job_reads_as_a_fraction_and_demo_limits_hold(compat_live: LiveSystem) -> None:
    base = compat_live.api_url
    created = httpx.post(f"{base}/jobs", json={"n": 10**12, "chunks": 16}).json()
    job = httpx.get(f"{base}/jobs/{created['job_id']}").json()
    assert job["status"] in ("pending", "running", "completed")
    assert 0.0 <= job["progress"] <= 1.0
    over = httpx.post(f"{base}/jobs/demo", json={"n": 10_001, "chunks": 4})
    assert over.status_code == 400 and "10,000" in over.json()["detail"]
    events = httpx.get(f"{base}/jobs/{created['job_id']}/events", timeout=60)
    assert "event: end" in events.text
