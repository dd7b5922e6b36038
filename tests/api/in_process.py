"""An API in this process for unit tests: FastAPI's TestClient in front of `create_app`,
with a SQLite store of its own and Celery on kombu's in-memory transport. What a route
publishes is read back off the queue, and chunks are computed by a ChunkRunner here, as a
worker would compute them. The fixtures (`serve`, `api`) are in this folder's conftest."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery import Celery
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from chunkwise.api import create_app
from chunkwise.config import Settings
from chunkwise.engine import ChunkRunner
from chunkwise.store import Store, jobs
from tests.memory_broker import take_published


@dataclass
class Api:
    app: FastAPI
    http: TestClient
    store: Store
    settings: Settings
    broker: Celery
    """An app on the same in-memory transport: the queue the API publishes to."""

    def submit(self, kind: str = "sum_range", chunks: int = 2, **params: Any) -> Response:
        body = {"kind": kind, "params": params, "chunks": chunks}
        response: Response = self.http.post("/api/jobs", json=body)
        return response

    def submitted(self, kind: str = "sum_range", chunks: int = 2, **params: Any) -> uuid.UUID:
        response = self.submit(kind, chunks, **params)
        assert response.status_code == 202, response.text
        return uuid.UUID(response.json()["job_id"])

    def compute_published(self) -> list[tuple[uuid.UUID, int]]:
        """Compute every published chunk, as a worker would; returns what was published."""
        runner = ChunkRunner(self.store, self.settings.workload_limits())
        taken = [(message.job_id, message.index) for message in take_published(self.broker)]
        for job_id, index in taken:
            runner.run(job_id=job_id, index=index, worker="test-worker")
        return taken

    def job_count(self) -> int:
        with self.store.reader() as session:
            return jobs.count_jobs(session)


ServeInProcess = Callable[..., AbstractContextManager[Api]]


def serving_in_process(tmp_path: Path, memory_celery: Celery) -> ServeInProcess:
    """`with serve(**settings) as api:` an API with those settings over a fresh store."""

    @contextmanager
    def serving(**overrides: Any) -> Iterator[Api]:
        store_url = f"sqlite:///{tmp_path / 'api.db'}"
        fields: dict[str, Any] = {"data_dir": tmp_path, "database_url": store_url}
        settings = Settings(broker_url="memory://", **(fields | overrides))
        app = create_app(settings)
        with TestClient(app, base_url="http://localhost") as http:
            yield Api(app, http, app.state.store, settings, memory_celery)

    return serving


def assert_error(response: Response, status: int, detail: str, field: str | None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["detail"].startswith(detail), body
    assert body["field"] == field
