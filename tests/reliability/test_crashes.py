"""Crashes and restarts mid-job: each job still ends in SUCCESS with the exact result and
every chunk recorded once. Each test prints how long recovery took."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from chunkwise.engine.celery_app import parse_chunk_task_id
from chunkwise.store import jobs
from chunkwise.store import workers as worker_rows
from tests.live import LiveSystem
from tests.reliability.conftest import DEFAULT_HEARTBEAT_S, DEFAULT_TTL_S
from tests.reliability.faulty import chunk_events
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

PI_1E8 = 5761455


def slow_job(live: LiveSystem, log_dir: Path, *, chunk_s: float, chunks: int = 64) -> str:
    params = {"n": 10**8, "chunk_s": chunk_s, "log_dir": str(log_dir)}
    return live.submit("slow_prime_count", params, chunks)


def assert_exact_and_recorded_once(live: LiveSystem, job_id: str, *, chunks: int = 64) -> None:
    job = live.job(job_id)
    assert job["state"] == "SUCCESS", job["error"]
    assert job["result"]["prime_count"] == PI_1E8
    assert job["progress"] == {"completed": chunks, "total": chunks, "cached": 0}
    with live.store.reader() as session:
        recorded = jobs.list_chunks(session, job_id=uuid.UUID(job_id))
    assert all(chunk.partial is not None and chunk.worker for chunk in recorded)
    assert sum(chunk.partial for chunk in recorded) == PI_1E8


def held_running_chunk(live: LiveSystem, worker: str, log_dir: Path) -> int | None:
    """A chunk `worker`'s lease names and that has started computing, if any."""
    with live.store.reader() as session:
        holding = worker_rows.held_chunks(session, ttl_s=live.settings.worker_ttl_s)
    for task_id in holding.get(worker, []):
        key = parse_chunk_task_id(task_id)
        if key is not None and chunk_events(log_dir, key[1], "start"):
            return key[1]
    return None


def test_a_sigkilled_worker_loses_nothing(system: LiveSystem, log_dir: Path) -> None:
    # Given a job under way on both workers
    job_id = slow_job(system, log_dir, chunk_s=0.25)
    victim, survivor = system.worker_names
    index = wait_for(
        lambda: held_running_chunk(system, victim, log_dir),
        timeout_s=30,
        interval_s=0.01,
        what=f"{victim} to be computing a chunk",
    )

    # When the whole worker (main process and pool) is SIGKILLed mid-chunk
    killed_at = time.time()
    system.kill_worker(victim)

    # Then its chunk runs again on the other worker within 5 s (the lease as shipped)
    assert (system.settings.worker_ttl_s, system.settings.worker_heartbeat_s) == (
        DEFAULT_TTL_S,
        DEFAULT_HEARTBEAT_S,
    )
    bound_s = 5.0
    restarted = wait_for(
        lambda: [t for t in chunk_events(log_dir, index, "start") if t > killed_at],
        timeout_s=bound_s,
        interval_s=0.02,
        what=f"chunk {index} to run again",
    )
    recovery_s = restarted[0] - killed_at
    print(f"\nSIGKILLed worker: chunk {index} running again after {recovery_s:.2f} s")
    assert recovery_s <= bound_s

    # And the job ends exact, every chunk recorded once
    system.wait_finished(job_id, timeout_s=120)
    assert_exact_and_recorded_once(system, job_id)
    with system.store.reader() as session:
        chunk = jobs.list_chunks(session, job_id=uuid.UUID(job_id))[index]
    assert chunk.worker == survivor


@pytest.mark.parametrize("broker", ["embedded"], indirect=True)  # stops the broker it runs
def test_the_broker_stopped_and_restarted_mid_job(system: LiveSystem, log_dir: Path) -> None:
    # Given a job under way
    job_id = slow_job(system, log_dir, chunk_s=0.1)
    wait_for(
        lambda: system.job(job_id)["progress"]["completed"] >= 8,
        timeout_s=30,
        what="eight chunks done",
    )

    # When the broker stops
    system.broker.stop()
    stopped_at = time.monotonic()

    # Then the API says so at once, with 503s and messages, and still reads the store
    with httpx.Client(base_url=system.settings.resolved_api_url, timeout=10) as http:
        started = time.monotonic()
        refused = http.post(
            "/api/jobs", json={"kind": "sum_range", "params": {"n": 10}, "chunks": 1}
        )
        assert refused.status_code == 503 and "broker" in refused.json()["detail"]

        def health_refused() -> httpx.Response | None:
            response = http.get("/health")
            return response if response.status_code == 503 else None

        health = wait_for(health_refused, timeout_s=2.0, what="/health to show the broker down")
        assert health.json()["broker"] == "unreachable"
        assert http.get(f"/api/jobs/{job_id}").status_code == 200
        assert time.monotonic() - started < 8.0

    # And when it starts again on the same address, the workers reconnect by themselves
    system.broker.restart()
    restarted_at = time.monotonic()
    system.wait_finished(job_id, timeout_s=120)
    done_at = time.monotonic()
    print(
        f"\nbroker restart: down {restarted_at - stopped_at:.2f} s, "
        f"job finished {done_at - restarted_at:.2f} s after the restart"
    )
    assert_exact_and_recorded_once(system, job_id)
    wait_for(
        lambda: system.http.get("/health").status_code == 200,
        timeout_s=2.0,
        what="/health to show the broker back",
    )


def test_the_api_killed_and_restarted_mid_job(system: LiveSystem, log_dir: Path) -> None:
    # Given a job under way
    job_id = slow_job(system, log_dir, chunk_s=0.1)
    wait_for(lambda: system.job(job_id)["state"] == "PROGRESS", timeout_s=30, what="progress")

    # When the API is SIGKILLed, the workers go on without it
    system.kill_api()
    killed_at = time.monotonic()

    def completed() -> int:
        with system.store.reader() as session:
            job = jobs.get_job(session, job_id=uuid.UUID(job_id))
        assert job is not None
        return job.completed_chunks

    before = completed()
    wait_for(lambda: completed() > before, timeout_s=30, what="chunks done with the API down")

    # Then a new API process knows the job and sees it finish
    system.spawn_api()
    wait_for(system.api_answers, timeout_s=30, what="the API to answer again")
    print(f"\nAPI restart: answering again {time.monotonic() - killed_at:.2f} s after the kill")
    assert system.job(job_id)["state"] in ("PROGRESS", "SUCCESS")
    system.wait_finished(job_id, timeout_s=120)
    assert_exact_and_recorded_once(system, job_id)
