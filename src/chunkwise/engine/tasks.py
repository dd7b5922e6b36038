"""The Celery task: a thin adapter from a chunk message to `ChunkRunner.run`."""

from __future__ import annotations

import uuid
from typing import Any

from celery import Celery, Task

from chunkwise.engine.celery_app import RUN_CHUNK_TASK
from chunkwise.engine.dispatch import revoke_unfinished
from chunkwise.engine.runner import ChunkOutcome, ChunkRunner
from chunkwise.errors import TransientChunkError

MAX_RETRY_DELAY_S = 60.0


def retry_delay_s(base_s: float, retries: int) -> float:
    """Exponential backoff: base, 2 x base, 4 x base, ... capped at a minute."""
    return float(min(base_s * 2**retries, MAX_RETRY_DELAY_S))


def register_tasks(app: Celery, runner: ChunkRunner, *, retry_backoff_s: float) -> Task:
    """Register the chunk task on `app`, computing with `runner`."""
    time_limit_s = runner.time_limit_s

    @app.task(  # type: ignore[untyped-decorator]
        name=RUN_CHUNK_TASK,
        bind=True,
        shared=False,
        soft_time_limit=time_limit_s,
        time_limit=None if time_limit_s is None else time_limit_s * 2 + 30,
    )
    def run_chunk(self: Task, job_id: str, index: int, kind: str, spec: dict[str, Any]) -> None:
        retries = self.request.retries or 0
        try:
            outcome = runner.run(
                job_id=uuid.UUID(job_id),
                index=index,
                kind=kind,
                spec=spec,
                worker=self.request.hostname or "unknown",
                attempt=retries + 1,
            )
        except TransientChunkError as exc:
            raise self.retry(exc=exc, countdown=retry_delay_s(retry_backoff_s, retries)) from exc
        if outcome is ChunkOutcome.FAILED_JOB:
            revoke_unfinished(runner.store, self.app, job_id=uuid.UUID(job_id), terminate=False)

    return run_chunk
