"""What the dashboard shows of the store: a job's chunks one by one, and the totals.

Reads only. Each answer is one or two statements whatever the store's size: jobs by state
come from ix_jobs_state, chunks finished lately from ix_chunks_finished_at, a job's chunks
from their primary key.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from chunkwise.store.clock import db_now, seconds_between
from chunkwise.store.models import Chunk, Job, JobState, Worker
from chunkwise.store.progress import started_but_unrecorded

RATE_WINDOW_S = 60.0
"""Chunks per second are averaged over the last minute."""


@dataclass(frozen=True)
class ChunkRow:
    """One chunk as the chunk map shows it."""

    index: int
    recorded: bool
    worker: str | None
    """Who recorded it; until then, who started it last (None: nobody yet)."""
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    cache_hits: int


def job_chunks(session: Session, *, job_id: uuid.UUID) -> list[ChunkRow]:
    """The job's chunks in index order, without their specs or partials."""
    query = (
        select(
            Chunk.index,
            Chunk.partial.is_not(None),
            Chunk.worker,
            Chunk.attempts,
            Chunk.started_at,
            Chunk.finished_at,
            Chunk.cache_hits,
        )
        .where(Chunk.job_id == job_id)
        .order_by(Chunk.index)
    )
    return [ChunkRow(*row) for row in session.execute(query)]


def chunk_specs(session: Session, *, job_id: uuid.UUID) -> list[tuple[int, Any, bool]]:
    """(index, spec, recorded) of each of the job's chunks, in index order."""
    query = (
        select(Chunk.index, Chunk.spec, Chunk.partial.is_not(None))
        .where(Chunk.job_id == job_id)
        .order_by(Chunk.index)
    )
    rows = session.execute(query)
    return [(int(index), spec, bool(recorded)) for index, spec, recorded in rows]


@dataclass(frozen=True)
class JobStats:
    by_state: dict[str, int]
    average_duration_s: float | None
    """Over the jobs that succeeded and are still kept."""
    chunks_last_window: int
    """Chunks recorded in the last RATE_WINDOW_S seconds."""


def job_stats(session: Session) -> JobStats:
    """Jobs by the state they are shown in, their average duration, and the chunks
    recorded lately."""
    counts = session.execute(select(Job.state, func.count()).group_by(Job.state))
    by_state = {str(state): int(count) for state, count in counts}
    pending = by_state.get(JobState.PENDING.value, 0)
    # Shown as STARTED, though their rows say PENDING (store.progress); at most the PENDING
    # counted, should a job start between the two reads.
    started = min(started_but_unrecorded(session), pending) if pending else 0
    if started:
        by_state[JobState.PENDING.value] -= started
        by_state[JobState.STARTED.value] = by_state.get(JobState.STARTED.value, 0) + started
        by_state = {state: count for state, count in by_state.items() if count}
    average = session.scalar(
        select(func.avg(seconds_between(Job.created_at, Job.finished_at))).where(
            Job.state == JobState.SUCCESS
        )
    )
    recent = session.scalar(select(func.count()).where(Chunk.finished_at >= db_now(-RATE_WINDOW_S)))
    return JobStats(
        by_state=by_state,
        average_duration_s=None if average is None else float(average),
        chunks_last_window=int(recent or 0),
    )


@dataclass(frozen=True)
class WorkerRow:
    """A live worker node as the workers view shows it."""

    name: str
    processes: int
    holding: list[str]
    chunks_done: int
    """Chunks it recorded since it started."""
    started_at: datetime
    heartbeat_at: datetime


def live_worker_rows(session: Session, *, ttl_s: float) -> list[WorkerRow]:
    """Workers heard from within `ttl_s`, by name, with the chunks each recorded."""
    workers = session.execute(
        select(Worker).where(Worker.heartbeat_at >= db_now(-ttl_s)).order_by(Worker.name)
    ).scalars()
    live = list(workers)
    if not live:
        return []
    since = min(worker.started_at for worker in live)
    counts = session.execute(
        select(Chunk.worker, func.count())
        .where(Chunk.finished_at >= since, Chunk.worker.in_([w.name for w in live]))
        .group_by(Chunk.worker)
    )
    done = {name: int(count) for name, count in counts}
    return [
        WorkerRow(
            name=worker.name,
            processes=worker.processes,
            holding=list(worker.holding or []),
            chunks_done=done.get(worker.name, 0),
            started_at=worker.started_at,
            heartbeat_at=worker.heartbeat_at,
        )
        for worker in live
    ]


@dataclass(frozen=True)
class DurationHistogram:
    """Recorded chunks of one kind by how long their last delivery took to compute."""

    at_most: list[int]
    """Chunks that took at most each bucket's bound, in the order of the bounds given."""
    count: int
    total_s: float


def chunk_durations(session: Session, *, bounds_s: Sequence[float]) -> dict[str, DurationHistogram]:
    """Cumulative counts of chunk durations (start to record) by kind, over the chunks of
    the jobs kept: one statement, counted where the rows are."""
    duration = seconds_between(Chunk.started_at, Chunk.finished_at).label("d")
    timed = (
        select(Job.kind.label("kind"), duration)
        .join(Job, Job.id == Chunk.job_id)
        .where(Chunk.finished_at.is_not(None), Chunk.started_at.is_not(None))
        .subquery()
    )
    at_most = [func.sum(case((timed.c.d <= bound, 1), else_=0)) for bound in bounds_s]
    query = select(
        timed.c.kind, func.count(), func.coalesce(func.sum(timed.c.d), 0.0), *at_most
    ).group_by(timed.c.kind)
    histograms = {}
    for kind, count, total, *cumulative in session.execute(query):
        histograms[str(kind)] = DurationHistogram(
            at_most=[int(value or 0) for value in cumulative],
            count=int(count),
            total_s=max(0.0, float(total)),
        )
    return histograms
