"""The Celery task: a thin adapter from a chunk message to `ChunkRunner.run`.

A message names its chunk and nothing else (`job_id`, `index`); the runner reads the rest
from the store. Two failures happen outside the pool child and are handled in the worker's
main process by `ChunkRequest`: the child dying (killed, or a kind that kills its own
process), and the hard time limit.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from billiard.einfo import ExceptionWithTraceback
from billiard.exceptions import WorkerLostError
from celery import Celery, Task
from celery.exceptions import Reject, TimeLimitExceeded
from celery.worker.request import Request
from celery.worker.state import task_ready

from chunkwise.engine.celery_app import RUN_CHUNK_TASK, parse_chunk_task_id
from chunkwise.engine.dispatch import BROKER_ERRORS, revoke_unfinished
from chunkwise.engine.runner import ChunkOutcome, ChunkRunner, spent_error
from chunkwise.errors import KindElsewhereError, StoreOutageError, TransientChunkError
from chunkwise.store import recovery

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_S = 60.0


def retry_delay_s(base_s: float, retries: int) -> float:
    """Exponential backoff: base, 2 x base, 4 x base, ... capped at a minute."""
    return float(min(base_s * 2**retries, MAX_RETRY_DELAY_S))


class ChunkRequest(Request):  # type: ignore[misc]
    """A chunk request whose failures outside the pool child end the job when they must.

    With `task_reject_on_worker_lost`, a chunk whose process died goes back to the queue;
    once it has been started `max_attempts` times, its job fails here instead and the
    message is acknowledged, so a chunk that kills its process is delivered at most
    `max_attempts` times. A chunk past its hard time limit fails its job too (Celery would
    otherwise acknowledge it silently). A chunk a stopping node cut off (`worker.drain`,
    which cancels its request) is handed back, never a lost worker, whatever its attempts.
    """

    def on_failure(
        self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False
    ) -> Any:
        exc = exc_info.exception
        if isinstance(exc, ExceptionWithTraceback):
            exc = exc.exc
        key = parse_chunk_task_id(self.id)
        error = None if key is None else self._job_error(key, exc)
        if key is None or error is None:
            return super().on_failure(exc_info, send_failed_event, return_ok)
        runner: ChunkRunner = self.task.runner
        try:
            runner.fail(key[0], error, wait_for_store=False)  # never stall the main loop
            _revoke_rest(runner, self.task.app, key[0])
        except Exception:
            log.exception("chunk %s: could not fail its job", self.id)
            return super().on_failure(exc_info, send_failed_event, return_ok)
        task_ready(self)
        self.acknowledge()
        return None

    def _job_error(self, key: tuple[uuid.UUID, int], exc: BaseException) -> str | None:
        """The job's error when this failure must end it, else None (Celery decides)."""
        job_id, index = key
        runner: ChunkRunner = self.task.runner
        if isinstance(exc, TimeLimitExceeded):
            return f"chunk {index} exceeded its hard time limit and its process was killed"
        if not isinstance(exc, WorkerLostError) or self._already_cancelled:
            return None
        try:
            with runner.store.reader() as session:
                attempts = recovery.chunk_attempts(session, job_id=job_id, index=index)
        except Exception:
            log.exception("chunk %s: could not read its attempts", self.id)
            return None
        if attempts is None or attempts < runner.max_attempts:
            return None
        return spent_error(index, attempts)


class ChunkTask(Task):  # type: ignore[misc]
    """The chunk task's class: its requests are ChunkRequests, its runner is set at
    registration."""

    Request = ChunkRequest
    runner: ChunkRunner


def register_tasks(
    app: Celery, runner: ChunkRunner, *, retry_backoff_s: float, hard_time_limit_s: float | None
) -> Task:
    """Register the chunk task on `app`, computing with `runner`."""

    @app.task(  # type: ignore[untyped-decorator]
        name=RUN_CHUNK_TASK,
        base=ChunkTask,
        bind=True,
        shared=False,
        soft_time_limit=runner.time_limit_s,
        time_limit=hard_time_limit_s,
        max_retries=None,  # the store's attempts column bounds retries, see ChunkRunner
        runner=runner,
    )
    def run_chunk(self: Task, job_id: str, index: int) -> None:
        try:
            outcome = runner.run(
                job_id=uuid.UUID(job_id), index=index, worker=self.request.hostname or "unknown"
            )
        except TransientChunkError as exc:
            retries = self.request.retries or 0
            raise self.retry(exc=exc, countdown=retry_delay_s(retry_backoff_s, retries)) from exc
        except KindElsewhereError as exc:
            # Back on the queue after the first retry delay, for a worker that runs the kind.
            raise self.retry(exc=exc, countdown=retry_backoff_s) from exc
        except StoreOutageError as exc:
            # Back on the queue, unrecorded: the next delivery finds the store again.
            raise Reject(str(exc), requeue=True) from exc
        if outcome is ChunkOutcome.FAILED_JOB:
            _revoke_rest(runner, self.app, uuid.UUID(job_id))

    return run_chunk


def _revoke_rest(runner: ChunkRunner, app: Celery, job_id: uuid.UUID) -> None:
    """Spare the work of a failed job's queued chunks (they would be skipped anyway)."""
    try:
        revoke_unfinished(runner.store, app, job_id=job_id, terminate=False)
    except BROKER_ERRORS:
        log.warning("job %s failed, but its chunks could not be revoked", job_id)
