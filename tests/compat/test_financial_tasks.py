"""Seed 002's README examples against a live chunkwise: a Monte-Carlo projection task."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.compat.conftest import curl_examples
from tests.live import LiveSystem
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

SECTION = "Seed 002: financial task processing"
FIELDS = {
    "task_id",
    "status",
    "priority",
    "queue",
    "result",
    "error",
    "created_at",
    "started_at",
    "completed_at",
    "processing_time_ms",
}


def test_the_readme_example_projects_10000_at_5_percent(compat_live: LiveSystem) -> None:
    submit, status, health = curl_examples(SECTION)
    created = submit.send(compat_live.api_url)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "PENDING" and body["queue"] == "medium"

    def done() -> dict[str, Any] | None:
        task: dict[str, Any] = status.send(compat_live.api_url, body["task_id"]).json()
        return task if task["status"] in ("SUCCESS", "FAILURE") else None

    task = wait_for(done, timeout_s=60, interval_s=0.05, what="the projection")
    assert set(task) == FIELDS and task["status"] == "SUCCESS"
    assert task["result"]["paths"] == 100_000
    assert 10_000 < task["result"]["mean"] < 20_000  # 10,000 at 5% for 10 years: ~16,487
    assert task["processing_time_ms"] > 0 and task["completed_at"]
    assert health.send(compat_live.api_url).status_code == 200


def test_priority_and_the_v1_path_and_errors(compat_live: LiveSystem) -> None:
    base = compat_live.api_url
    body = {"data": {"amount": 500, "rate": 0.01, "paths": 1000, "periods": 12}, "priority": "high"}
    created = httpx.post(f"{base}/api/v1/tasks", json=body)
    assert created.status_code == 201 and created.json()["queue"] == "high"
    assert "ignored: periods" in created.json()["message"]
    task = httpx.get(f"{base}/api/v1/tasks/{created.json()['task_id']}").json()
    assert task["priority"] == "high"
    missing = httpx.post(f"{base}/tasks", json={"data": {"rate": 0.05}})
    assert missing.status_code == 400 and missing.json()["code"] == "INVALID_TASK"
    assert "amount" in missing.json()["message"]
    assert httpx.get(f"{base}/tasks/not-an-id").status_code == 404
