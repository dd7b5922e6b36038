"""A live chunkwise system for tests: the LocalSystem `chunkwise up` runs, with the tests'
settings (worker nodes of one process each, a short lease), an HTTP client and the store."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from chunkwise.config import Settings
from chunkwise.launcher import LocalSystem
from chunkwise.store import Store
from tests.waiting import wait_for

JOB_TIMEOUT_S = 60.0
SHORT_LEASE_ENV = {"CHUNKWISE_WORKER_HEARTBEAT_S": "0.5", "CHUNKWISE_WORKER_TTL_S": "3"}
"""A lost worker is noticed within seconds, so tests of recovery stay short."""


class LiveSystem(LocalSystem):
    """A LocalSystem the tests talk to over HTTP and look into through its store."""

    def __init__(
        self,
        settings: Settings,
        *,
        worker_names: Sequence[str],
        env: Mapping[str, str],
        worker_env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            settings,
            worker_names=worker_names,
            env=env,
            worker_env=worker_env,
            log_level="warning",
        )
        self.http = httpx.Client()
        self.store = Store(settings.resolved_database_url)

    def start(self) -> None:
        super().start()
        self.http.base_url = httpx.URL(self.api_url)

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self.http.close()
            self.store.dispose()

    def submit(self, kind: str, params: dict[str, Any], chunks: int) -> str:
        response = self.http.post(
            "/api/jobs", json={"kind": kind, "params": params, "chunks": chunks}
        )
        assert response.status_code == 202, response.text
        job_id: str = response.json()["job_id"]
        return job_id

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.http.get(f"/api/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_finished(self, job_id: str, timeout_s: float = JOB_TIMEOUT_S) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            job = self.job(job_id)
            return job if job["state"] in ("SUCCESS", "FAILURE", "CANCELLED") else None

        return wait_for(finished, timeout_s=timeout_s, what=f"job {job_id} to finish")


def live_system(
    root: Path,
    *,
    workers: int = 2,
    extra_env: Mapping[str, str] | None = None,
    worker_env: Mapping[str, str] | None = None,
) -> LiveSystem:
    """A system under `root` of `workers` nodes (worker1@test, …), to run in a with-block,
    which starts it and stops and reaps everything on leaving.

    `extra_env` is added to every process's environment; `worker_env` to the workers' only
    (a store URL through a proxy).
    """
    env = {
        **os.environ,
        "CHUNKWISE_DATA_DIR": str(root),
        "CHUNKWISE_DATABASE_URL": f"sqlite:///{root / 'chunkwise.db'}",
        **SHORT_LEASE_ENV,
        **(extra_env or {}),
    }
    settings = Settings(
        data_dir=root,
        broker_url="",  # always an embedded broker of its own
        database_url=env["CHUNKWISE_DATABASE_URL"],
        api_port=0,
        worker_heartbeat_s=float(env["CHUNKWISE_WORKER_HEARTBEAT_S"]),
        worker_ttl_s=float(env["CHUNKWISE_WORKER_TTL_S"]),
    )
    names = [f"worker{number}@test" for number in range(1, workers + 1)]
    return LiveSystem(settings, worker_names=names, env=env, worker_env=worker_env)


def drain(live: LiveSystem, *, timeout_s: float = 60.0) -> None:
    """Return once a new job has been computed by every worker.

    Chunks are delivered in order (prefetch 1), so by then every chunk queued earlier has
    been delivered, and every chunk in flight earlier has ended.
    """
    from chunkwise.store import jobs

    def a_job_on_every_worker() -> bool:
        job = live.wait_finished(live.submit("sum_range", {"n": 10_000}, 16), timeout_s=30)
        assert job["state"] == "SUCCESS" and job["result"]["sum"] == 50005000
        with live.store.reader() as session:
            chunks = jobs.list_chunks(session, job_id=uuid.UUID(job["job_id"]))
        return {chunk.worker for chunk in chunks} >= set(live.worker_names)

    wait_for(a_job_on_every_worker, timeout_s=timeout_s, what="a new job on every worker")
