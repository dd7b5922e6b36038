"""Retention on a live system: finished jobs expire and say so; running jobs stay."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from chunkwise.store import jobs
from tests.reliability.conftest import SystemFactory
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def test_a_finished_job_expires_and_a_running_one_stays(
    system_with: SystemFactory, log_dir: Path
) -> None:
    with system_with(
        CHUNKWISE_RESULT_TTL_S="1", CHUNKWISE_RETENTION_SWEEP_INTERVAL_S="0.5"
    ) as live:
        # Given a job that keeps a worker busy, and a small one that finishes meanwhile
        slow_params = {"n": 20_000, "chunk_s": 10.0, "log_dir": str(log_dir)}
        running = live.submit("slow_prime_count", slow_params, 1)
        finished = live.wait_finished(live.submit("sum_range", {"n": 10_000}, 2))
        assert finished["state"] == "SUCCESS"

        # When its result TTL has passed, the next sweep removes it
        def gone() -> httpx.Response | None:
            response = live.http.get(f"/api/jobs/{finished['job_id']}")
            return response if response.status_code == 404 else None

        response = wait_for(gone, timeout_s=15, what="the finished job to expire")

        # Then the API says when it expired and which setting decided it
        detail = response.json()["detail"]
        assert detail.startswith(f"job {finished['job_id']} expired on 20")
        assert detail.endswith("finished jobs are kept for 1 second (CHUNKWISE_RESULT_TTL_S)")
        listed = live.http.get("/api/jobs", params={"limit": 200}).json()["items"]
        assert finished["job_id"] not in [job["job_id"] for job in listed]

        # And the running job, though older than the TTL, is untouched
        job = live.job(running)
        assert job["state"] in ("PENDING", "STARTED", "PROGRESS")
        with live.store.reader() as session:
            assert len(jobs.list_chunks(session, job_id=uuid.UUID(running))) == 1
        unknown = live.http.get(f"/api/jobs/{uuid.uuid4()}")
        assert unknown.status_code == 404 and "expired" not in unknown.json()["detail"]
