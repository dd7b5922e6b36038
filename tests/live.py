"""A live chunkwise system for tests: real Valkey, real worker processes, the API over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from chunkwise.config import Settings
from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.store import Store
from chunkwise.supervisor import ProcessGroup
from tests.waiting import wait_for

STARTUP_TIMEOUT_S = 60.0
JOB_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def chunkwise_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "chunkwise", *args]


@dataclass
class LiveSystem:
    """Handles on a running system: its HTTP client, store, settings and processes."""

    http: httpx.Client
    store: Store
    settings: Settings
    worker_names: list[str]
    group: ProcessGroup
    env: dict[str, str]
    broker: EmbeddedBroker
    worker_env: dict[str, str]

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

    def spawn_worker(self, name: str) -> None:
        argv = chunkwise_argv("worker", "--name", name, "--loglevel", "WARNING")
        self.group.spawn(name, argv, {**self.env, **self.worker_env})

    def spawn_api(self, name: str = "api") -> None:
        self.group.spawn(name, chunkwise_argv("api", "--log-level", "warning"), self.env)

    def kill(self, name: str) -> None:
        """SIGKILL a child and everything it started, as if its machine died."""
        os.killpg(self.group.children[name].pid, signal.SIGKILL)

    def api_answers(self) -> bool:
        return _answers(self.http)

    def live_workers(self) -> int:
        response = self.http.get("/health")
        workers: int = response.json()["workers"]
        return workers


@contextmanager
def live_system(
    root: Path,
    *,
    workers: int = 2,
    extra_env: dict[str, str] | None = None,
    worker_env: dict[str, str] | None = None,
) -> Iterator[LiveSystem]:
    """Start broker, workers and API under `root`; stop and reap everything on exit.

    `worker_env` is added to the workers' environment only (a store URL through a proxy).
    """
    with EmbeddedBroker(root / "broker", appendonly=True) as broker:
        port = free_port()
        env = {
            **os.environ,
            "CHUNKWISE_DATA_DIR": str(root),
            "CHUNKWISE_BROKER_URL": broker.url,
            "CHUNKWISE_DATABASE_URL": f"sqlite:///{root / 'chunkwise.db'}",
            "CHUNKWISE_API_PORT": str(port),
            "CHUNKWISE_WORKER_HEARTBEAT_S": "0.5",
            "CHUNKWISE_WORKER_TTL_S": "3",
            **(extra_env or {}),
        }
        settings = Settings(
            data_dir=root,
            broker_url=env["CHUNKWISE_BROKER_URL"],
            database_url=env["CHUNKWISE_DATABASE_URL"],
            api_port=port,
            worker_heartbeat_s=float(env["CHUNKWISE_WORKER_HEARTBEAT_S"]),
            worker_ttl_s=float(env["CHUNKWISE_WORKER_TTL_S"]),
        )
        store = Store(settings.resolved_database_url)
        store.create_schema()
        names = [f"worker{number}@test" for number in range(1, workers + 1)]
        with ProcessGroup() as group, httpx.Client(base_url=settings.resolved_api_url) as http:
            system = LiveSystem(http, store, settings, names, group, env, broker, worker_env or {})
            for name in names:
                system.spawn_worker(name)
            system.spawn_api()
            wait_for(
                lambda: _answers(http) and system.live_workers() == workers,
                timeout_s=STARTUP_TIMEOUT_S,
                what=f"the API to report {workers} live workers",
            )
            yield system
        store.dispose()


def _answers(http: httpx.Client) -> bool:
    try:
        return http.get("/health").status_code == 200
    except httpx.HTTPError:
        return False


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
