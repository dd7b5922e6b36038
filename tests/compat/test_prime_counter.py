"""Seed 000's README examples and its page's calls, against a live chunkwise."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.compat.conftest import curl_examples
from tests.live import LiveSystem
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

SECTION = "Seed 000: Distributed Prime Counter"


def poll_until_ended(live: LiveSystem, job_id: str) -> list[dict[str, Any]]:
    """What the seed's page sees: GET /api/jobs/{id} until SUCCESS or FAILURE."""
    seen: list[dict[str, Any]] = []

    def ended() -> bool:
        seen.append(httpx.get(f"{live.api_url}/api/jobs/{job_id}").json())
        return seen[-1]["state"] in ("SUCCESS", "FAILURE")

    wait_for(ended, timeout_s=60, interval_s=0.02, what="the job to end")
    return seen


def test_the_readme_examples_count_17984_primes_to_200000(compat_live: LiveSystem) -> None:
    submit, status, health, root, openapi = curl_examples(SECTION)
    accepted = submit.send(compat_live.api_url)
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert set(body) == {"job_id", "status"} and body["status"] == "PENDING"
    poll_until_ended(compat_live, body["job_id"])
    answer = status.send(compat_live.api_url, body["job_id"])
    job = answer.json()
    assert answer.status_code == 200
    assert job["job_id"] == body["job_id"] and job["state"] == "SUCCESS"
    assert job["progress"]["completed"] == job["progress"]["total"] == 16
    assert job["result"]["prime_count"] == 17984 and job["result"]["duration_sec"] >= 0
    assert health.send(compat_live.api_url).json()["status"] == "ok"
    assert root.send(compat_live.api_url).json()["name"] == "chunkwise"
    paths = openapi.send(compat_live.api_url).json()["paths"]
    assert "/api/count-primes" in paths and "/api/jobs/{job_id}" in paths


def test_the_page_polls_with_its_own_field_names(compat_live: LiveSystem) -> None:
    # pages/index.vue: axios.post(`${apiBaseUrl}/api/count-primes`, {n, chunks}), then
    # GET /api/jobs/{job_id} every second until state is SUCCESS or FAILURE.
    response = httpx.post(
        f"{compat_live.api_url}/api/count-primes", json={"n": 10_000_000, "chunks": 32}
    )
    assert response.status_code == 202
    seen = poll_until_ended(compat_live, response.json()["job_id"])
    for job in seen:
        assert job["state"] in ("PENDING", "STARTED", "PROGRESS", "SUCCESS")
        assert 0 <= job["progress"]["completed"] <= job["progress"]["total"] == 32
    assert seen[-1]["result"]["prime_count"] == 664_579


@pytest.mark.parametrize(
    "body", [{"n": 9999, "chunks": 4}, {"n": 20000, "chunks": 0}, {"n": 20000, "chunks": 129}]
)
def test_outside_the_documented_bounds_is_400_with_a_detail(
    compat_live: LiveSystem, body: dict[str, int]
) -> None:
    response = httpx.post(f"{compat_live.api_url}/api/count-primes", json=body)
    assert response.status_code == 400
    assert response.json()["detail"]  # the page shows err.response.data.detail
