"""Running one delivered chunk against the store: what the Celery task calls.

Every step re-reads the store and is safe to repeat: a chunk of an ended job is skipped,
a chunk recorded twice counts once, and the worker whose recording completes the job
combines the partials in the same transaction, so a job is never left complete but
unfinished. Failures split in two: a passing one (a lost connection) is retried with
backoff; anything else is a bug or bad data, and fails the job at once.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from kombu.exceptions import BatchPublishError
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy.exc import OperationalError as SqlOperationalError
from sqlalchemy.orm import Session

from chunkwise.errors import ServiceUnavailableError, TransientChunkError
from chunkwise.store import JobState, Store, cache, jobs
from chunkwise.store.jobs import JobHeader
from chunkwise.store.models import utcnow
from chunkwise.workloads import Chunk, Workload, get_workload
from chunkwise.workloads.base import Piece

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    ServiceUnavailableError,
    SqlOperationalError,
    KombuOperationalError,
    BatchPublishError,
)
STACK_FRAMES_KEPT = 6


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
    ) -> None:
        self.store = store
        self.limits = dict(limits)
        self.max_attempts = max_attempts
        self.time_limit_s = time_limit_s
        self.use_cache = use_cache

    def run(
        self,
        *,
        job_id: uuid.UUID,
        index: int,
        kind: str,
        spec: Chunk,
        worker: str,
        attempt: int = 1,
    ) -> ChunkOutcome:
        """Compute one chunk and record it.

        Raises TransientChunkError when the failure may pass and attempts remain.
        """
        try:
            return self._run(job_id, index, kind, spec, worker)
        except SoftTimeLimitExceeded:
            self.fail(job_id, f"chunk {index} exceeded its time limit of {self.time_limit_s} s")
            return ChunkOutcome.FAILED_JOB
        except TRANSIENT_ERRORS as exc:
            if attempt < self.max_attempts:
                log.warning("chunk %s of job %s: %r; will retry", index, job_id, exc)
                raise TransientChunkError(str(exc)) from exc
            self.fail(job_id, f"chunk {index} failed {attempt} times; last: {describe(exc)}")
            return ChunkOutcome.FAILED_JOB

    def _run(
        self, job_id: uuid.UUID, index: int, kind: str, spec: Chunk, worker: str
    ) -> ChunkOutcome:
        with self.store.reader() as session:
            job = jobs.job_header(session, job_id=job_id)
        if job is None or job.state.is_terminal:
            log.info("skipping chunk %s of job %s: job %s", index, job_id, job and job.state)
            return ChunkOutcome.SKIPPED
        if job.state == JobState.PENDING:
            with self.store.writer() as session:
                jobs.mark_started(session, job_id=job_id)
        workload = get_workload(kind)
        pieces = workload.cache_pieces(spec) if self.use_cache and job.use_cache else None
        try:
            computed = self.compute(workload, spec, pieces)
        except (SoftTimeLimitExceeded, *TRANSIENT_ERRORS):
            raise
        except Exception as exc:
            log.exception("chunk %s of job %s failed", index, job_id)
            self.fail(job_id, f"chunk {index} failed: {describe(exc)}")
            return ChunkOutcome.FAILED_JOB
        return self.record(job, workload, index=index, computed=computed, worker=worker)

    def compute(
        self, workload: Workload[Any], spec: Chunk, pieces: Sequence[Piece] | None
    ) -> Computed:
        """The chunk's partial; cacheable pieces already in the cache are not computed."""
        if not pieces:
            return Computed(workload.run_chunk(spec))
        keys = [piece.key for piece in pieces if piece.key is not None]
        with self.store.reader() as session:
            cached = cache.lookup(session, keys=keys)
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

    def record(
        self,
        job: JobHeader,
        workload: Workload[Any],
        *,
        index: int,
        computed: Computed,
        worker: str,
    ) -> ChunkOutcome:
        """Record a partial; if it completes the job, combine and finish in the same commit."""
        with self.store.writer() as session:
            cache.remember(session, entries=computed.fresh)
            cache.touch(session, keys=computed.hits)
            record = jobs.record_chunk(
                session,
                job_id=job.id,
                index=index,
                partial=computed.partial,
                worker=worker,
                cache_hits=len(computed.hits),
                from_cache=computed.all_cached,
            )
            if not record.all_done or record.job_state.is_terminal:
                return ChunkOutcome.RECORDED
            try:
                result = self._combine(session, job, workload)
            except Exception as exc:
                log.exception("combining job %s failed", job.id)
                error = f"combining results failed: {describe(exc)}"
                jobs.fail_job(session, job_id=job.id, error=error)
                return ChunkOutcome.FAILED_JOB
            jobs.finish_job(session, job_id=job.id, result=result)
        return ChunkOutcome.RECORDED

    def _combine(self, session: Session, job: JobHeader, workload: Workload[Any]) -> dict[str, Any]:
        params = workload.params_model.model_validate(job.params, context=self.limits)
        combined = workload.combine(params, jobs.chunk_partials(session, job_id=job.id))
        duration_s = (utcnow() - job.created_at).total_seconds()
        return {**combined, "duration_sec": round(duration_s, 3)}

    def fail(self, job_id: uuid.UUID, error: str) -> None:
        with self.store.writer() as session:
            jobs.fail_job(session, job_id=job_id, error=error)


def describe(exc: BaseException) -> str:
    """The error and the innermost frames of its stack, for the job's error field."""
    frames = traceback.extract_tb(exc.__traceback__)[-STACK_FRAMES_KEPT:]
    stack = "".join(traceback.format_list(frames)).rstrip()
    headline = f"{type(exc).__name__}: {exc}"
    return f"{headline}\n{stack}" if stack else headline
