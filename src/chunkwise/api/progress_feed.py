"""Live progress for every client of one API process, from one poller.

A client watching a job over Server-Sent Events subscribes here. One asyncio task reads
the store for all watched jobs at once, every PROGRESS_POLL_INTERVAL_S and only while
anyone watches: the counters of every watched job in one statement, then, for the jobs
whose count moved (or that have a new watcher), their recorded chunks in another. N
clients watching M jobs cost those two statements, not N reads. The store stays the
truth, so a client gets the same stream whichever API process it reaches.

Each subscription keeps what it has been told, so every watcher gets, in order: the job's
state when it subscribed, then one event per chunk recorded after that, then the end. A
watcher that falls too far behind (its queue full) is not allowed to hold memory: its
backlog is dropped for one event with the current state.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from chunkwise.store import Store
from chunkwise.store.progress import JobProgress, RecordedChunk, jobs_progress, recorded_chunks

log = logging.getLogger(__name__)

QUEUE_EVENTS = 1024
"""Events a watcher may have waiting before its backlog is replaced by the current state."""


@dataclass(frozen=True)
class ChunkDone:
    index: int
    worker: str | None
    cache_hits: int


@dataclass(frozen=True)
class ProgressEvent:
    """A job's counters as a watcher should now show them; `chunk` is the chunk whose
    record moved them, or None for a state the watcher had not seen."""

    state: str
    completed: int
    total: int
    cached: int
    chunk: ChunkDone | None = None

    @property
    def ended(self) -> bool:
        return self.state in ("SUCCESS", "FAILURE", "CANCELLED")


@dataclass
class Subscription:
    """One watcher of one job."""

    job_id: uuid.UUID
    queue: asyncio.Queue[ProgressEvent] = field(default_factory=lambda: asyncio.Queue(QUEUE_EVENTS))
    told: ProgressEvent | None = None
    """The counters this watcher was last told (None: nothing yet)."""
    seen: set[int] = field(default_factory=set)
    """Recorded chunks it has been told of, or that were recorded before it subscribed."""
    gone: bool = False
    """The job no longer exists (deleted, or expired)."""

    def tell(self, event: ProgressEvent) -> None:
        if self.queue.full():  # too far behind: the current state replaces the backlog
            while not self.queue.empty():
                self.queue.get_nowait()
            event = ProgressEvent(event.state, event.completed, event.total, event.cached)
        self.queue.put_nowait(event)
        self.told = event


@dataclass(frozen=True)
class _Read:
    progress: dict[uuid.UUID, JobProgress]
    chunks: dict[uuid.UUID, list[RecordedChunk]]


class ProgressFeed:
    """Polls the store for watched jobs and tells each watcher what changed."""

    def __init__(self, store: Store, *, interval_s: float, background: bool = True) -> None:
        """`background=False`: nothing polls but calls of `poll_once` (tests drive them)."""
        self.store = store
        self.interval_s = interval_s
        self.background = background
        self._watchers: dict[uuid.UUID, list[Subscription]] = {}
        self._last: dict[uuid.UUID, JobProgress] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @asynccontextmanager
    async def watch(self, job_id: uuid.UUID) -> AsyncIterator[Subscription]:
        """Subscribe to a job's progress for the life of the block."""
        subscription = Subscription(job_id)
        self._watchers.setdefault(job_id, []).append(subscription)
        self._ensure_polling()
        try:
            yield subscription
        finally:
            watchers = self._watchers.get(job_id, [])
            if subscription in watchers:
                watchers.remove(subscription)
            if not watchers:
                self._watchers.pop(job_id, None)
                self._last.pop(job_id, None)

    @property
    def watched(self) -> int:
        return sum(len(watchers) for watchers in self._watchers.values())

    def _ensure_polling(self) -> None:
        if not self.background:
            return
        self._wake.set()  # a new watcher is told the state at once, not after a sleep
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while self._watchers:
            try:
                await self.poll_once()
            except Exception:
                log.warning("progress poll failed; trying again", exc_info=True)
            self._wake.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)

    async def poll_once(self) -> None:
        """Read the watched jobs once and tell every watcher what it has not been told."""
        watched = {job_id: list(subs) for job_id, subs in self._watchers.items() if subs}
        if not watched:
            return
        fresh = {job_id for job_id, subs in watched.items() if any(s.told is None for s in subs)}
        read = await run_in_threadpool(self._read, set(watched), fresh)
        for job_id, subscriptions in watched.items():
            progress = read.progress.get(job_id)
            for subscription in subscriptions:
                if progress is None:
                    subscription.gone = True
                    subscription.tell(ProgressEvent("GONE", 0, 0, 0))
                    continue
                _tell(subscription, progress, read.chunks.get(job_id, []))

    def _read(self, job_ids: set[uuid.UUID], fresh: set[uuid.UUID]) -> _Read:
        with self.store.reader() as session:
            progress = jobs_progress(session, job_ids=job_ids)
            moved = {
                job_id
                for job_id, now in progress.items()
                if job_id in fresh or self._last.get(job_id) != now
            }
            chunks: dict[uuid.UUID, list[RecordedChunk]] = {}
            if moved:
                for chunk in recorded_chunks(session, job_ids=moved):
                    chunks.setdefault(chunk.job_id, []).append(chunk)
        self._last.update(progress)
        return _Read(progress, {job_id: chunks.get(job_id, []) for job_id in moved})


def _tell(subscription: Subscription, progress: JobProgress, recorded: list[RecordedChunk]) -> None:
    """Tell one watcher the chunks recorded since it was last told, one event each, then
    the state if that still differs."""
    state = progress.state.value
    if subscription.told is None:  # its first event: the state now, chunks so far seen
        subscription.seen.update(chunk.index for chunk in recorded)
        subscription.tell(ProgressEvent(state, progress.completed, progress.total, progress.cached))
        return
    told = subscription.told
    new = [chunk for chunk in recorded if chunk.index not in subscription.seen]
    completed = told.completed
    for position, chunk in enumerate(new, start=1):
        subscription.seen.add(chunk.index)
        last = position == len(new)
        completed = progress.completed if last else min(completed + 1, progress.completed)
        # A chunk's own event never carries the end: the end is an event of its own.
        ended = progress.state.is_terminal
        subscription.tell(
            ProgressEvent(
                state if last and not ended else _running(told.state),
                completed,
                progress.total,
                progress.cached if last else told.cached,
                ChunkDone(chunk.index, chunk.worker, chunk.cache_hits),
            )
        )
    now = ProgressEvent(state, progress.completed, progress.total, progress.cached)
    current = subscription.told
    if (current.state, current.completed, current.cached) != (
        now.state,
        now.completed,
        now.cached,
    ):
        subscription.tell(now)


def _running(state: str) -> str:
    """The state shown for a chunk recorded before the last one of a poll: a job whose
    chunks are being recorded is in PROGRESS."""
    return "PROGRESS" if state in ("PENDING", "STARTED") else state
