"""Four chunkwise processes started at once on a fresh PostgreSQL database: two APIs and
two worker nodes race to create the schema, and all come up and run jobs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.launcher import api_answers, chunkwise_argv, free_port
from chunkwise.supervisor import ProcessGroup
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def test_two_apis_and_two_workers_start_together_on_a_fresh_database(
    new_postgres_database: Callable[[], str], tmp_path: Path
) -> None:
    database_url = new_postgres_database()
    ports = [free_port(), free_port()]
    with EmbeddedBroker(tmp_path / "broker", appendonly=False) as broker, ProcessGroup() as group:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CHUNKWISE_")},
            "CHUNKWISE_DATA_DIR": str(tmp_path),
            "CHUNKWISE_DATABASE_URL": database_url,
            "CHUNKWISE_BROKER_URL": broker.url,
        }
        for number, port in enumerate(ports, start=1):
            argv = chunkwise_argv("api", "--port", str(port), "--log-level", "warning")
            group.spawn(f"api-{number}", argv, env)
        for number in (1, 2):
            argv = chunkwise_argv("worker", "--name", f"w{number}@test", "--loglevel", "WARNING")
            group.spawn(f"worker-{number}", argv, env)
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            wait_for(lambda url=url: api_answers(url), timeout_s=90, what=url)  # type: ignore[misc]
        wait_for(
            lambda: httpx.get(f"{urls[0]}/health").json()["workers"] == 2,
            timeout_s=90,
            what="both workers",
        )
        assert all(group.returncode(name) is None for name in group.children), "one crashed"
        body = {"kind": "sum_range", "params": {"n": 1_000_000}, "chunks": 8}
        job_id = httpx.post(f"{urls[1]}/api/jobs", json=body).json()["job_id"]

        def finished() -> dict[str, Any] | None:
            job: dict[str, Any] = httpx.get(f"{urls[0]}/api/jobs/{job_id}").json()
            return job if job["state"] == "SUCCESS" else None

        job = wait_for(finished, timeout_s=60, what="the job")
    assert job["result"]["sum"] == 500_000_500_000
