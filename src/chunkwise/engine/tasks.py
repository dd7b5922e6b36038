"""The Celery task: a thin adapter from a chunk message to `ChunkRunner.run`."""

from __future__ import annotations

import uuid
from typing import Any

from celery import Celery, Task

from chunkwise.engine.celery_app import RUN_CHUNK_TASK
from chunkwise.engine.dispatch import ChunkRunner


def register_tasks(app: Celery, runner: ChunkRunner) -> Task:
    """Register the chunk task on `app`, computing with `runner`."""

    @app.task(name=RUN_CHUNK_TASK, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def run_chunk(self: Task, job_id: str, index: int, kind: str, spec: dict[str, Any]) -> None:
        worker = self.request.hostname or "unknown"
        runner.run(job_id=uuid.UUID(job_id), index=index, kind=kind, spec=spec, worker=worker)

    return run_chunk
