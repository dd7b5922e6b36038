"""Running one delivered chunk against the store: what the Celery task calls.

Every step re-reads the store and is safe to repeat: a chunk of an ended job is skipped,
a chunk recorded twice counts once, and the worker whose recording completes the job
combines the partials in the same transaction, so a job is never left complete but
unfinished.

Failures split three ways:
- The store out of reach (a restart, a failover): the store call is retried with backoff
  for up to `store_outage_s`, holding the chunk's message unacknowledged. What was
  computed is kept and recorded once the store answers; nothing is computed again.
- The computation losing a connection (a kind that does I/O): the chunk is delivered
  again with backoff, up to `max_attempts` starts in all.
- Anything else is a bug or bad data and fails the job at once, with a one-line error;
  the stack goes to the worker's log with the job id and chunk index.

Every start is counted in the store, so a chunk that kills its worker process, or whose
partial can never be recorded, ends its job after `max_attempts` deliveries instead of
looping forever.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar, cast

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import Connection
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from chunkwise.errors import KindElsewhereError, StoreOutageError, TransientChunkError
from chunkwise.logs import log_context
from chunkwise.store import Store, cache, jobs, recording, results, workers
from chunkwise.store.db import is_transient
from chunkwise.store.models import utcnow
from chunkwise.store.recording import ChunkStart, JobHeader
from chunkwise.workloads import (
    Cacheable,
    ItemList,
    UnknownWorkloadError,
    Workload,
    get_workload,
)
from chunkwise.workloads.base import Chunk, Piece

log = logging.getLogger(__name__)

T = TypeVar("T")

COMPUTE_TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)
"""What a computation may raise and still succeed on another delivery."""
ERROR_MAX_BYTES = 1024
STORE_RETRY_FIRST_S = 0.1
STORE_RETRY_MAX_S = 5.0
"""Store calls are retried at 0.1 s, 0.2 s, ... up to every 5 s while the store is away."""


@dataclass(frozen=True)
class Computed:
    """A chunk's partial, and what the chunk cache gave and gets."""

    partial: Any
    fresh: dict[str, Any] = field(default_factory=dict)
    """Newly computed cacheable pieces, by key."""
    hits: list[str] = field(default_factory=list)
    """Keys of pieces taken from the cache."""
    all_cached: bool = False


class ChunkOutcome(StrEnum):
    SKIPPED = "skipped"
    RECORDED = "recorded"
    FAILED_JOB = "failed_job"


class ChunkFailure(Exception):
    """Raised inside the runner when a chunk fails its job; carries the job's error."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class ChunkRunner:
    """Computes delivered chunks and records them in the store."""

    def __init__(
        self,
        store: Store,
        limits: Mapping[str, int],
        *,
        max_attempts: int = 5,
        time_limit_s: float | None = None,
        use_cache: bool = True,
        store_outage_s: float = 300.0,
        worker_ttl_s: float = 3.0,
    ) -> None:
        self.store = store
        self.limits = dict(limits)
        self.max_attempts = max_attempts
        self.time_limit_s = time_limit_s
        self.use_cache = use_cache
        self.store_outage_s = store_outage_s
        self.worker_ttl_s = worker_ttl_s

    def run(self, *, job_id: uuid.UUID, index: int, worker: str) -> ChunkOutcome:
        """Compute chunk `index` of `job_id` and record it.

        Raises TransientChunkError when the computation failed for a passing reason and
        attempts remain, StoreOutageError when the store stayed away past the outage bound.
        """
        with log_context(job_id=str(job_id), chunk=index):
            try:
                return self._run(job_id, index, worker)
            except ChunkFailure as failure:
                self.fail(job_id, failure.error)
                return ChunkOutcome.FAILED_JOB

    def _run(self, job_id: uuid.UUID, index: int, worker: str) -> ChunkOutcome:
        start = self.with_store(lambda: self._start(job_id, index, worker))
        if start is None or start.job.state.is_terminal or start.recorded:
            log.info("skipping chunk %s of job %s: nothing left to do", index, job_id)
            return ChunkOutcome.SKIPPED
        if not start.counted:
            raise ChunkFailure(spent_error(index, start.attempts))
        workload = self._workload_here(start.job, index)
        with _failing_job(job_id, index, "could not be prepared"):
            pieces = None
            if self.use_cache and start.job.use_cache and _implements(workload, Cacheable):
                pieces = cast(Cacheable, workload).cache_pieces(start.spec)
        computed = self._compute(workload, start, index, pieces)
        with _failing_job(job_id, index, "returned a partial that cannot be stored"):
            _check_storable(computed.partial)
        return self.with_store(lambda: self.record(start.job, workload, index, computed, worker))

    def _workload_here(self, job: JobHeader, index: int) -> Workload[Any]:
        """The chunk's workload, if this worker loaded its kind.

        Every worker takes chunks from the one queue, but a kind from another package runs
        only where it is installed. A chunk of a kind this worker lacks goes back to the
        queue for one of the live workers that run it, its start not counted (raises
        KindElsewhereError); with no such worker left, its job fails, as it could only wait.
        """
        try:
            return get_workload(job.kind)
        except UnknownWorkloadError:
            pass
        runners = self.with_store(lambda: self._hand_back(job, index))
        if runners:
            log.warning(
                "chunk %s of job %s: kind %r is not loaded here; back to the queue for the "
                "%d live worker(s) that run it",
                index,
                job.id,
                job.kind,
                runners,
            )
            raise KindElsewhereError(f"kind {job.kind!r} is not loaded on this worker")
        raise ChunkFailure(
            f"chunk {index} could not be run: no live worker runs kind {job.kind!r} "
            "(install its package on the workers)"
        )

    def _hand_back(self, job: JobHeader, index: int) -> int:
        """How many live workers run the job's kind; the start is given back if any do."""
        with self.store.writer() as session:
            runners = workers.live_kinds(session, ttl_s=self.worker_ttl_s).get(job.kind, 0)
            if runners:
                recording.give_back_start(session, job_id=job.id, index=index)
        return runners

    def _start(self, job_id: uuid.UUID, index: int, worker: str) -> ChunkStart | None:
        with self.store.write_connection() as connection:
            return recording.start_chunk(
                connection,
                job_id=job_id,
                index=index,
                max_attempts=self.max_attempts,
                worker=worker,
            )

    def _compute(
        self, workload: Workload[Any], start: ChunkStart, index: int, pieces: Sequence[Piece] | None
    ) -> Computed:
        try:
            return self.compute(workload, start.spec, pieces)
        except SoftTimeLimitExceeded:
            raise ChunkFailure(
                f"chunk {index} exceeded its time limit of {self.time_limit_s} s"
            ) from None
        except (StoreOutageError, ChunkFailure):
            raise
        except COMPUTE_TRANSIENT_ERRORS as exc:
            if start.attempts < self.max_attempts:
                log.warning("chunk %s of job %s: %r; will retry", index, start.job.id, exc)
                raise TransientChunkError(str(exc)) from exc
            raise ChunkFailure(
                bounded(f"chunk {index} failed {start.attempts} times; last: {headline(exc)}")
            ) from exc
        except Exception as exc:
            log.exception("chunk %s of job %s failed", index, start.job.id)
            raise ChunkFailure(bounded(f"chunk {index} failed: {headline(exc)}")) from exc

    def compute(
        self, workload: Workload[Any], spec: Chunk, pieces: Sequence[Piece] | None
    ) -> Computed:
        """The chunk's partial; cacheable pieces already in the cache are not computed."""
        if not pieces or not isinstance(workload, Cacheable):
            return Computed(workload.run_chunk(spec))
        keys = [piece.key for piece in pieces if piece.key is not None]
        cached = self.with_store(lambda: self._lookup(keys))
        partials, fresh = [], {}
        for piece in pieces:
            if piece.key is not None and piece.key in cached:
                partials.append(cached[piece.key])
                continue
            partials.append(workload.run_chunk(piece.chunk))
            if piece.key is not None:
                fresh[piece.key] = partials[-1]
        hits = [key for key in keys if key in cached]
        return Computed(workload.merge_pieces(partials), fresh, hits, len(hits) == len(pieces))

    def _lookup(self, keys: Sequence[str]) -> dict[str, Any]:
        with self.store.reader() as session:
            return cache.lookup(session, keys=keys)

    def record(
        self,
        job: JobHeader,
        workload: Workload[Any],
        index: int,
        computed: Computed,
        worker: str,
    ) -> ChunkOutcome:
        """Record a partial; if it completes the job, combine and finish in the same commit.

        Most chunks neither touch the cache nor complete their job: those run on a bare
        connection, and an ORM session joins the transaction only when one of those is due.
        """
        with (
            _failing_job(job.id, index, "could not be recorded"),
            self.store.write_connection() as connection,
        ):
            if computed.fresh or computed.hits:
                with Session(connection) as session:
                    cache.remember(session, entries=computed.fresh)
                    cache.touch(session, keys=computed.hits)
            record = recording.record_chunk(
                connection,
                job_id=job.id,
                index=index,
                partial=computed.partial,
                worker=worker,
                cache_hits=len(computed.hits),
                from_cache=computed.all_cached,
                item_count=_item_count(workload, computed.partial),
            )
            if not record.all_done or record.job_state.is_terminal:
                return ChunkOutcome.RECORDED
            with _failing_job(job.id, index, "completed the job, but combining failed"):
                result = self._combine(connection, job, workload)
            jobs.finish_job(connection, job_id=job.id, result=result)
        return ChunkOutcome.RECORDED

    def _combine(
        self, connection: Connection, job: JobHeader, workload: Workload[Any]
    ) -> dict[str, Any]:
        params = workload.params_model.model_validate(job.params, context=self.limits)
        combined = workload.combine(params, results.chunk_partials(connection, job_id=job.id))
        duration_s = (utcnow() - job.created_at).total_seconds()
        return {**combined, "duration_sec": round(duration_s, 3)}

    def fail(self, job_id: uuid.UUID, error: str, *, wait_for_store: bool = True) -> None:
        """End the job in FAILURE with `error` (a no-op if it has ended already).

        `wait_for_store=False` tries once: for a caller that must not block, such as the
        worker's main process, which has a fallback of its own.
        """

        def write() -> None:
            with self.store.writer() as session:
                jobs.fail_job(session, job_id=job_id, error=bounded(error))

        if wait_for_store:
            self.with_store(write)
        else:
            write()

    def with_store(self, call: Callable[[], T]) -> T:
        """`call()`, retried with backoff while the store is unreachable.

        Only connection-level errors are retried, for up to `store_outage_s`; then
        StoreOutageError. A deterministic database error is raised at once. The first
        try runs bare: every chunk makes these calls, and the retry machinery is paid
        for only once the store has failed.
        """
        try:
            return call()
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("the job store does not answer (%s); retrying", type(exc).__name__)
        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            wait=wait_exponential(multiplier=STORE_RETRY_FIRST_S, max=STORE_RETRY_MAX_S),
            stop=stop_after_delay(self.store_outage_s),
            before_sleep=_log_store_wait,
            reraise=True,
        )
        try:
            return retrying(call)
        except Exception as exc:
            if is_transient(exc):
                raise StoreOutageError(
                    f"the job store did not answer for {self.store_outage_s} s"
                ) from exc
            raise


def _item_count(workload: Workload[Any], partial: Any) -> int | None:
    """The partial's item count, kept for paging, for kinds whose result is an item list."""
    if not _implements(workload, ItemList):
        return None
    return cast(ItemList, workload).count_items(partial)


@functools.cache
def _implements(workload: Workload[Any], protocol: type) -> bool:
    """`isinstance(workload, protocol)`, asked once per kind: checking a runtime protocol
    looks up each of its members, a cost every chunk would pay again."""
    return isinstance(workload, protocol)


@contextmanager
def _failing_job(job_id: uuid.UUID, index: int, what: str) -> Iterator[None]:
    """Turn any non-transient exception in the block into a ChunkFailure for the job.

    Transient store errors pass through, so `with_store` retries the whole step.
    """
    try:
        yield
    except (ChunkFailure, StoreOutageError):
        raise
    except Exception as exc:
        if is_transient(exc):
            raise
        log.error("chunk %s of job %s %s", index, job_id, what, exc_info=exc)
        raise ChunkFailure(bounded(f"chunk {index} {what}: {headline(exc)}")) from exc


def _check_storable(partial: Any) -> None:
    """Raise TypeError or ValueError now if the partial is not plain JSON (a numpy scalar,
    NaN), rather than fail later inside the store's write."""
    json.dumps(partial, allow_nan=False)


def _log_store_wait(state: Any) -> None:
    log.warning(
        "the job store does not answer (%s); trying again in %.1f s",
        type(state.outcome.exception()).__name__,
        state.next_action.sleep if state.next_action else 0.0,
    )


def spent_error(index: int, attempts: int) -> str:
    """The error of a job whose chunk used up its starts without ever being recorded."""
    return (
        f"chunk {index} was started {attempts} times and never recorded; "
        "its worker process died or lost its lease each time"
    )


def headline(exc: BaseException) -> str:
    """One line naming the error: its type and the first line of its message.

    A database error is named by its driver's error, never by its SQL text or bound
    parameters.
    """
    while isinstance(exc, StatementError) and exc.orig is not None:
        exc = exc.orig
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__


def bounded(error: str) -> str:
    """`error` cut to ERROR_MAX_BYTES of UTF-8."""
    raw = error.encode()
    if len(raw) <= ERROR_MAX_BYTES:
        return error
    return raw[: ERROR_MAX_BYTES - 3].decode(errors="ignore") + "..."
