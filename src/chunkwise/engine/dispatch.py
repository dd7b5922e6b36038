"""A job's life in the engine: submit it, run its chunks, finish or fail it.

Every step re-reads the store and is safe to repeat, because Celery delivers each chunk
at least once: a chunk of an ended job is skipped, a chunk recorded twice counts once,
and the worker whose recording completes the job combines the partials in the same
transaction, so a job is never left complete but unfinished. Cancelling a job only moves
it to CANCELLED in the store; its chunks then stop on their own (see `cancel_job`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError as KombuOperationalError
from pydantic import ValidationError
from sqlalchemy.orm import Session

from chunkwise.engine.celery_app import RUN_CHUNK_TASK
from chunkwise.errors import (
    BrokerUnavailableError,
    InvalidJobError,
    JobConflictError,
    JobNotFoundError,
)
from chunkwise.store import Job, JobState, Store, jobs
from chunkwise.store.models import utcnow
from chunkwise.workloads import Chunk, UnknownWorkloadError, Workload, get_workload

log = logging.getLogger(__name__)


def validate_job(
    kind: str, raw_params: Mapping[str, Any], limits: Mapping[str, int]
) -> tuple[Workload[Any], dict[str, Any]]:
    """The workload and normalised parameters of a job request, or InvalidJobError."""
    try:
        workload = get_workload(kind)
    except UnknownWorkloadError as exc:
        raise InvalidJobError(f"kind: {exc}", field="kind") from None
    try:
        params = workload.parse_params(raw_params, limits)
    except ValidationError as exc:
        raise InvalidJobError(_describe(exc), field=_first_field(exc)) from None
    return workload, params.model_dump(mode="json")


def _first_field(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    return ".".join(str(part) for part in ("params", *(errors[0]["loc"] if errors else ())))


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in ("params", *error["loc"]))
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def submit_job(
    store: Store,
    app: Celery,
    *,
    kind: str,
    params: Mapping[str, Any],
    chunks: int,
    limits: Mapping[str, int],
) -> Job:
    """Validate, store and publish a job; raises InvalidJobError or BrokerUnavailableError.

    The job is committed before its chunks are published, so a worker never receives a
    chunk the store does not know. If publishing fails the job is removed again: the
    caller is told to retry, and no half-published job lingers.
    """
    workload, normalised = validate_job(kind, params, limits)
    specs = workload.split(workload.params_model.model_validate(normalised, context=limits), chunks)
    with store.writer() as session:
        job = jobs.create_job(session, kind=kind, params=normalised, specs=specs)
    try:
        publish_chunks(app, job_id=job.id, kind=kind, specs=specs)
    except KombuOperationalError as exc:
        with store.writer() as session:
            jobs.delete_job(session, job_id=job.id)
        raise BrokerUnavailableError(f"the broker does not answer: {exc}") from exc
    return job


def publish_chunks(app: Celery, *, job_id: uuid.UUID, kind: str, specs: Sequence[Chunk]) -> None:
    """Send one message per chunk, all through one producer connection."""
    with app.producer_or_acquire() as producer:
        for index, spec in enumerate(specs):
            app.send_task(RUN_CHUNK_TASK, args=(str(job_id), index, kind, spec), producer=producer)


def cancel_job(store: Store, app: Celery, *, job_id: uuid.UUID) -> Job:
    """Cancel a running job and return it; JobNotFoundError or JobConflictError otherwise.

    Only the store changes: no Celery message is revoked (that would need every chunk's
    task id, and revokes are held in worker memory). Skipping at the worker is the
    mechanism: a queued chunk is delivered as usual, re-reads its job, finds it ended and
    is dropped without computing, and a chunk already computing has its partial refused
    by `jobs.record_chunk`, so the job's count and result never move after the cancel.
    `app` is taken for symmetry with `submit_job` and a future revoke.
    """
    with store.writer() as session:
        cancelled = jobs.cancel_job(session, job_id=job_id)
        job = jobs.get_job(session, job_id)
        if job is None:
            raise JobNotFoundError(f"no job with id {job_id}")
        if not cancelled:
            raise JobConflictError(
                f"job {job_id} already ended in {job.state}; only a running job can be cancelled"
            )
    log.info("job %s cancelled at %s/%s chunks", job_id, job.completed_chunks, job.total_chunks)
    return job


class ChunkRunner:
    """Runs delivered chunks against the store; what the Celery task calls."""

    def __init__(self, store: Store, limits: Mapping[str, int]) -> None:
        self.store = store
        self.limits = dict(limits)

    def run(self, *, job_id: uuid.UUID, index: int, kind: str, spec: Chunk, worker: str) -> None:
        """Compute one chunk and record it; a chunk of an ended or unknown job is skipped."""
        with self.store.reader() as session:
            job = jobs.get_job(session, job_id)
        if job is None or JobState(job.state).is_terminal:
            log.info("skipping chunk %s of job %s: job %s", index, job_id, job and job.state)
            return
        if job.state == JobState.PENDING:
            with self.store.writer() as session:
                jobs.mark_started(session, job_id=job_id)
        workload = get_workload(kind)
        try:
            partial = workload.run_chunk(spec)
        except Exception as exc:
            log.exception("chunk %s of job %s failed", index, job_id)
            self.fail(job_id, f"chunk {index} failed: {type(exc).__name__}: {exc}")
            return
        self.record(job, workload, index=index, partial=partial, worker=worker)

    def record(
        self, job: Job, workload: Workload[Any], *, index: int, partial: Any, worker: str
    ) -> None:
        """Record a partial; if it completes the job, combine and finish in the same commit."""
        with self.store.writer() as session:
            record = jobs.record_chunk(
                session, job_id=job.id, index=index, partial=partial, worker=worker
            )
            if not record.all_done or record.job_state.is_terminal:
                return
            try:
                result = self._combine(session, job, workload)
            except Exception as exc:
                log.exception("combining job %s failed", job.id)
                error = f"combining results failed: {type(exc).__name__}: {exc}"
                jobs.fail_job(session, job_id=job.id, error=error)
                return
            jobs.finish_job(session, job_id=job.id, result=result)

    def _combine(self, session: Session, job: Job, workload: Workload[Any]) -> dict[str, Any]:
        params = workload.params_model.model_validate(job.params, context=self.limits)
        combined = workload.combine(params, jobs.chunk_partials(session, job_id=job.id))
        duration_s = (utcnow() - job.created_at).total_seconds()
        return {**combined, "duration_sec": round(duration_s, 3)}

    def fail(self, job_id: uuid.UUID, error: str) -> None:
        with self.store.writer() as session:
            jobs.fail_job(session, job_id=job_id, error=error)
