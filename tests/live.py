"""A live chunkwise system for tests: the LocalSystem `chunkwise up` runs, with the tests'
settings (worker nodes of one process each, a short lease), an HTTP client and the store."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from chunkwise.config import Settings
from chunkwise.launcher import LocalSystem
from chunkwise.store import Store
from tests.waiting import wait_for

AMQP_URL = os.environ.get("CHUNKWISE_TEST_AMQP_URL", "")
BROKERS = [
    "embedded",
    pytest.param(
        "amqp",
        marks=pytest.mark.skipif(not AMQP_URL, reason="CHUNKWISE_TEST_AMQP_URL not set"),
    ),
]
"""The brokers the integration and reliability suites run on: the embedded Redis always,
RabbitMQ when CHUNKWISE_TEST_AMQP_URL names a server (`.ci/run` sets it when one answers)."""

JOB_TIMEOUT_S = 60.0
SHORT_LEASE_ENV = {"CHUNKWISE_WORKER_HEARTBEAT_S": "0.5", "CHUNKWISE_WORKER_TTL_S": "3"}
"""A lost worker is noticed within seconds, so tests of recovery stay short."""
WEBHOOK_SECRET = "test-webhook-secret"
WEBHOOK_ENV = {
    "CHUNKWISE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "CHUNKWISE_WEBHOOK_ALLOW_PRIVATE": "true",  # the tests' receivers listen on loopback
    "CHUNKWISE_WEBHOOK_RETRY_BASE_S": "0.2",
    "CHUNKWISE_WEBHOOK_SWEEP_S": "0.25",
    "CHUNKWISE_WEBHOOK_TIMEOUT_S": "5",
}
"""Webhooks a test can receive: signed with a known key, sent to loopback, retried fast."""


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

    @property
    def on_amqp(self) -> bool:
        """Whether this system's broker is RabbitMQ (shared with other tests' systems)."""
        return self.settings.broker_url.startswith("amqp")

    def start(self) -> None:
        super().start()
        self.http.base_url = httpx.URL(self.api_url)

    def stop(self) -> None:
        try:
            super().stop()
            if self.on_amqp:
                delete_queue(self.settings)
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
    broker: str = "embedded",
) -> LiveSystem:
    """A system under `root` of `workers` nodes (worker1@test, …), to run in a with-block,
    which starts it and stops and reaps everything on leaving.

    `extra_env` is added to every process's environment; `worker_env` to the workers' only
    (a store URL through a proxy). `broker` is "embedded" (a Redis server of its own) or
    "amqp": the RabbitMQ at CHUNKWISE_TEST_AMQP_URL, with a chunk queue of its own,
    deleted when the system stops.
    """
    on_amqp = broker == "amqp"
    queue = f"chunkwise-test-{uuid.uuid4().hex[:12]}" if on_amqp else "chunkwise"
    env = {
        **os.environ,
        "CHUNKWISE_DATA_DIR": str(root),
        "CHUNKWISE_DATABASE_URL": f"sqlite:///{root / 'chunkwise.db'}",
        "CHUNKWISE_CHUNK_QUEUE": queue,
        **SHORT_LEASE_ENV,
        **WEBHOOK_ENV,
        **(extra_env or {}),
    }
    env.pop("CHUNKWISE_BROKER_URL", None)
    settings = Settings(
        data_dir=root,
        broker_url=AMQP_URL if on_amqp else "",  # else an embedded broker of its own
        chunk_queue=queue,
        database_url=env["CHUNKWISE_DATABASE_URL"],
        api_port=0,
        worker_heartbeat_s=float(env["CHUNKWISE_WORKER_HEARTBEAT_S"]),
        worker_ttl_s=float(env["CHUNKWISE_WORKER_TTL_S"]),
    )
    # On the shared RabbitMQ, a node's control queue is named after it and exclusive to
    # one connection: another system's live worker1@test would lock this one out.
    host = f"test-{queue.rsplit('-', 1)[-1]}" if on_amqp else "test"
    names = [f"worker{number}@{host}" for number in range(1, workers + 1)]
    return LiveSystem(settings, worker_names=names, env=env, worker_env=worker_env)


def delete_queue(settings: Settings) -> None:
    """Delete a test system's queues from the shared RabbitMQ, messages and all."""
    from chunkwise.engine.celery_app import create_celery, webhook_queue

    app = create_celery(settings)
    try:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_delete(settings.chunk_queue)
            connection.default_channel.queue_delete(webhook_queue(settings))
    finally:
        app.close()


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
