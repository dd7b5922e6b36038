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

import redis.exceptions
from celery import Celery
from kombu.exceptions import BatchPublishError
from kombu.exceptions import OperationalError as KombuOperationalError
from pydantic import ValidationError

from chunkwise.engine.admission import AdmissionBounds, admit
from chunkwise.engine.celery_app import (
    AMQP_SCHEMES,
    RUN_CHUNK_TASK,
    broker_scheme,
    chunk_priority,
    chunk_task_id,
)
from chunkwise.errors import (
    BrokerUnavailableError,
    InvalidJobError,
    JobConflictError,
    JobNotFoundError,
    StoreUnavailableError,
)
from chunkwise.store import Job, Store, jobs
from chunkwise.store.recovery import PendingChunk
from chunkwise.workloads import UnknownWorkloadError, Workload, get_workload

log = logging.getLogger(__name__)

BROKER_ERRORS = (
    KombuOperationalError,
    BatchPublishError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
"""What publishing raises when the broker is unreachable (a pipeline fails as a batch;
a pooled connection to a Redis that restarted can fail unwrapped by kombu)."""


def validate_job(
    kind: str, raw_params: Mapping[str, Any], limits: Mapping[str, int]
) -> tuple[Workload[Any], dict[str, Any]]:
    """The workload and normalised parameters of a new job request, or InvalidJobError.

    The parameters come back completed (a random seed drawn, say): they are what the job
    stores, so only a new request goes through here, never a stored job.
    """
    try:
        workload = get_workload(kind)
    except UnknownWorkloadError as exc:
        raise InvalidJobError(f"kind: {exc}", field="kind") from None
    try:
        params = workload.parse_params(raw_params, limits)
    except ValidationError as exc:
        raise InvalidJobError(_describe(exc), field=_first_field(exc)) from None
    return workload, workload.complete_params(params).model_dump(mode="json")


def _where(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in ("params", *loc))


def _first_field(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    return _where(errors[0]["loc"] if errors else ())


def _describe(exc: ValidationError) -> str:
    return "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False))


def submit_job(
    store: Store,
    app: Celery,
    *,
    kind: str,
    params: Mapping[str, Any],
    chunks: int,
    limits: Mapping[str, int],
    use_cache: bool = True,
    admission: AdmissionBounds | None = None,
    owner_id: uuid.UUID | None = None,
    demo: bool = False,
    priority: str = "medium",
    callback_url: str | None = None,
) -> Job:
    """Validate, store and publish a job; raises InvalidJobError or BrokerUnavailableError.

    The job is committed before its chunks are published, so a worker never receives a
    chunk the store does not know. If publishing fails the job is removed again: the
    caller is told to retry, and no half-published job lingers. With `admission`, a job
    past its bounds raises AdmissionRefusedError before anything is stored.

    Publishing is bounded in time, so a broker that stops answering without closing its
    connections (paused, or its host gone from the network) gets the caller a 503, not a
    request that hangs: the app's broker sockets time out (`celery_app`,
    PUBLISH_TIMEOUT_S), and so does the wait for a pooled producer. Messages the broker
    takes after all, once it answers again, name a deleted job, and a worker skips them.
    """
    workload, normalised = validate_job(kind, params, limits)
    specs = workload.split(workload.params_model.model_validate(normalised, context=limits), chunks)
    with store.writer() as session:
        if admission is not None:
            admit(session, bounds=admission, chunks=len(specs), owner_id=owner_id)
        job = jobs.create_job(
            session,
            kind=kind,
            params=normalised,
            specs=specs,
            use_cache=use_cache,
            owner_id=owner_id,
            demo=demo,
            priority=priority,
            callback_url=callback_url,
        )
    try:
        publish_chunks(app, job_id=job.id, count=len(specs), priority=priority)
    except BROKER_ERRORS as exc:
        # The driver's text can name hosts and users: it goes to the log, not the client.
        log.warning("publishing job %s failed: %s", job.id, exc)
        _forget_unpublished(store, job.id)
        raise BrokerUnavailableError(
            "the broker does not answer or refuses new chunks: the job was not kept; "
            "try again shortly"
        ) from exc
    return job


def _forget_unpublished(store: Store, job_id: uuid.UUID) -> None:
    """Delete a job whose chunks could not be published. If the store fails too, the job
    stays, and the orphan sweep publishes its chunks once the broker answers: the caller,
    told 503, may then find it done; it is never stuck unpublished."""
    try:
        with store.writer() as session:
            jobs.delete_job(session, job_id=job_id)
    except StoreUnavailableError:
        log.error("job %s was not published and could not be deleted; it runs later", job_id)


def publish_chunks(app: Celery, *, job_id: uuid.UUID, count: int, priority: str = "medium") -> None:
    """Send one message per chunk, all through one producer connection."""
    send_chunks(app, [PendingChunk(job_id, index) for index in range(count)], level=priority)


def send_chunks(
    app: Celery, chunks: Sequence[PendingChunk], *, urgent: bool = False, level: str = "medium"
) -> None:
    """Publish chunk messages; `urgent` ones are delivered before queued ordinary ones.

    A message names its chunk, (job id, index), and carries nothing a worker trusts: the
    worker reads the chunk's kind and spec from the store. On Redis they go out as one
    pipeline (kombu's publish batch); other transports send them one by one through the
    same connection.
    """
    priority = chunk_priority(app, urgent=urgent, level=level)
    with app.producer_or_acquire() as producer, producer.batch():
        for position, chunk in enumerate(chunks):
            job_id = str(chunk.job_id)
            app.send_task(
                RUN_CHUNK_TASK,
                args=(job_id, chunk.index),
                task_id=chunk_task_id(chunk.job_id, chunk.index),
                priority=priority,
                producer=producer,
                # What Celery would otherwise work out again for every message, at a
                # fifth of a publish's cost: the arguments' repr for logs and monitors,
                # and the queue's declaration, which the first message of the batch makes.
                argsrepr=f"('{job_id}', {chunk.index})",
                kwargsrepr="{}",
                declare=None if position == 0 else [],
            )


def cancel_job(store: Store, app: Celery, *, job_id: uuid.UUID) -> Job:
    """Cancel a running job and return it; JobNotFoundError or JobConflictError otherwise.

    The store decides: once CANCELLED, a queued chunk that is delivered re-reads its job
    and is dropped, and a partial that arrives late is refused by `recording.record_chunk`, so
    the job's count and result never move after the cancel. Revoking the unfinished
    chunks spares the work: workers drop them on receipt. A chunk already computing runs
    to its end and is refused; it is not killed, because a terminated pool process is
    replaced and warmed again, which costs more than the chunk it would save.
    """
    with store.writer() as session:
        cancelled = jobs.cancel_job(session, job_id=job_id)
        job = jobs.get_job(session, job_id=job_id)
        if job is None:
            raise JobNotFoundError(f"no job with id {job_id}")
        if not cancelled:
            raise JobConflictError(
                f"job {job_id} already ended in {job.state}; only a running job can be cancelled"
            )
    log.info("job %s cancelled at %s/%s chunks", job_id, job.completed_chunks, job.total_chunks)
    try:
        revoke_unfinished(store, app, job_id=job_id, terminate=False)
    except BROKER_ERRORS:
        log.warning("job %s cancelled, but its chunks could not be revoked", job_id)
    return job


def revoke_unfinished(store: Store, app: Celery, *, job_id: uuid.UUID, terminate: bool) -> None:
    """Tell every worker to drop the job's unrecorded chunks (and stop running ones if asked).

    Not on RabbitMQ: there a worker holding revoked late-acknowledged messages stalls for
    seconds at a time (measured: 125 revoked chunks held up the next job for 14 s), while
    a chunk of an ended job costs a worker one store read to skip.
    """
    if broker_scheme(app) in AMQP_SCHEMES and not terminate:
        return
    with store.reader() as session:
        indices = jobs.unrecorded_indices(session, job_id=job_id)
    if indices:
        ids = [chunk_task_id(job_id, index) for index in indices]
        app.control.revoke(ids, terminate=terminate, signal="SIGTERM")
