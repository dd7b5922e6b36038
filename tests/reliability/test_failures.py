"""Failures: passing ones are retried with backoff, real ones fail the job at once with
their stack, slow chunks hit their time limit, and no work continues afterwards."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path

import pytest

from tests.live import LiveSystem, drain
from tests.reliability.conftest import SystemFactory
from tests.reliability.faulty import chunk_events

pytestmark = pytest.mark.integration


def starts(log_dir: Path, chunks: int) -> list[list[float]]:
    return [chunk_events(log_dir, index, "start") for index in range(chunks)]


def test_transient_errors_are_retried_with_backoff_up_to_a_limit(
    system_with: SystemFactory, tmp_path: Path
) -> None:
    with system_with(CHUNKWISE_CHUNK_MAX_ATTEMPTS="3") as live:
        # A chunk that loses its connection twice succeeds on its third attempt
        ok_logs = tmp_path / "ok"
        ok_logs.mkdir()
        ok = live.submit("flaky", {"fail_times": 2, "log_dir": str(ok_logs)}, 4)
        job = live.wait_finished(ok)
        assert job["state"] == "SUCCESS" and job["result"]["ok"] == 4
        backoff_s = 0.2
        for attempts in starts(ok_logs, 4):
            assert len(attempts) == 3
            gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
            assert gaps[0] >= backoff_s * 0.9 and gaps[1] >= 2 * backoff_s * 0.9

        # A chunk that keeps failing fails the job after the last attempt, and stops there
        bad_logs = tmp_path / "bad"
        bad_logs.mkdir()
        bad = live.submit("flaky", {"fail_times": 10, "log_dir": str(bad_logs)}, 2)
        job = live.wait_finished(bad)
        assert job["state"] == "FAILURE"
        assert "failed 3 times" in job["error"] and "ConnectionError" in job["error"]
        drain(live)
        assert all(len(attempts) <= 3 for attempts in starts(bad_logs, 2))


def test_a_bug_fails_the_job_at_once_with_its_stack_and_stops_the_rest(
    system: LiveSystem, log_dir: Path
) -> None:
    params = {"bad_index": 2, "chunk_s": 0.3, "log_dir": str(log_dir)}
    job_id = system.submit("broken", params, 32)
    job = system.wait_finished(job_id)
    assert job["state"] == "FAILURE" and job["result"] is None
    assert job["error"] == "chunk 2 failed: ZeroDivisionError: division by zero"

    drain(system)
    failed_at = datetime.fromisoformat(job["finished_at"]).timestamp()
    started = [t for attempts in starts(log_dir, 32) for t in attempts]
    assert len(started) < 32
    assert all(t <= failed_at + 0.5 for t in started), "a chunk started after the failure"
    assert system.job(job_id)["state"] == "FAILURE"


def test_a_chunk_over_its_time_limit_fails_the_job(
    system_with: SystemFactory, log_dir: Path
) -> None:
    with system_with(CHUNKWISE_CHUNK_TIME_LIMIT_S="2") as live:
        params = {"n": 10**6, "chunk_s": 30, "log_dir": str(log_dir)}
        job = live.wait_finished(live.submit("slow_prime_count", params, 2), timeout_s=20)
        assert job["state"] == "FAILURE"
        assert "exceeded its time limit of 2.0 s" in job["error"]
        assert job["duration_sec"] < 10
        drain(live)
        assert not any(chunk_events(log_dir, index, "end") for index in range(2))


def test_a_healthy_chunk_longer_than_the_lease_runs_once(system: LiveSystem, log_dir: Path) -> None:
    chunk_s = 60.0
    assert chunk_s > 10 * system.settings.worker_ttl_s
    params = {"n": 10**6, "chunk_s": chunk_s, "log_dir": str(log_dir)}
    job = system.wait_finished(system.submit("slow_prime_count", params, 1), timeout_s=120)
    assert job["state"] == "SUCCESS" and job["result"]["prime_count"] == 78498
    assert len(chunk_events(log_dir, 0, "start")) == 1


@pytest.mark.parametrize(
    ("how", "error"),
    [
        (
            "unstorable",
            "chunk 1 returned a partial that cannot be stored: "
            "TypeError: Object of type int64 is not JSON serializable",
        ),
        (
            "suicide",
            "chunk 1 was started 3 times and never recorded; "
            "its worker process died or lost its lease each time",
        ),
    ],
)
def test_a_poison_chunk_ends_its_job_within_its_attempts(
    system_with: SystemFactory, log_dir: Path, how: str, error: str
) -> None:
    with system_with(CHUNKWISE_CHUNK_MAX_ATTEMPTS="3") as live:
        params = {"bad_index": 1, "how": how, "log_dir": str(log_dir)}
        job = live.wait_finished(live.submit("poison", params, 4), timeout_s=60)
        assert job["state"] == "FAILURE" and job["result"] is None
        assert job["error"] == error

        drain(live)
        assert 1 <= len(chunk_events(log_dir, 1, "start")) <= 3
        assert live.job(job["job_id"])["state"] == "FAILURE"
        started_after_drain = len(chunk_events(log_dir, 1, "start"))
        drain(live)
        assert len(chunk_events(log_dir, 1, "start")) == started_after_drain
