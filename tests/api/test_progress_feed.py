"""One poller tells every watcher of a job what changed, in order, from the store."""

from __future__ import annotations

import asyncio
import uuid

from chunkwise.api.progress_feed import QUEUE_EVENTS, ProgressEvent, ProgressFeed, Subscription
from chunkwise.store import Store, jobs, recording
from tests.store.sample_jobs import make_job


def record(store: Store, job_id: uuid.UUID, *indices: int) -> None:
    with store.write_connection() as connection:
        for index in indices:
            recording.start_chunk(connection, job_id=job_id, index=index, max_attempts=5)
            recording.record_chunk(
                connection, job_id=job_id, index=index, partial=index, worker=f"w{index}"
            )


def drain(subscription: Subscription) -> list[ProgressEvent]:
    events = []
    while not subscription.queue.empty():
        events.append(subscription.queue.get_nowait())
    return events


def summary(events: list[ProgressEvent]) -> list[tuple[str, int, int | None]]:
    return [(e.state, e.completed, e.chunk.index if e.chunk else None) for e in events]


def test_watchers_get_the_state_then_one_event_per_chunk_in_order(store: Store) -> None:
    job_id = make_job(store, chunks=4)
    record(store, job_id, 2)

    async def scenario() -> tuple[list[ProgressEvent], list[ProgressEvent]]:
        feed = ProgressFeed(store, interval_s=3600, background=False)
        async with feed.watch(job_id) as first, feed.watch(job_id) as second:
            await feed.poll_once()
            record(store, job_id, 0, 3)
            await feed.poll_once()
            await feed.poll_once()  # nothing new: nothing told
            return drain(first), drain(second)

    first, second = asyncio.run(scenario())
    assert summary(first) == [("PROGRESS", 1, None), ("PROGRESS", 2, 0), ("PROGRESS", 3, 3)]
    assert summary(second) == summary(first)
    assert first[1].chunk is not None and first[1].chunk.worker == "w0"


def test_a_watcher_who_joins_late_starts_from_the_state_then(store: Store) -> None:
    job_id = make_job(store, chunks=3)

    async def scenario() -> tuple[list[ProgressEvent], list[ProgressEvent]]:
        feed = ProgressFeed(store, interval_s=3600, background=False)
        async with feed.watch(job_id) as early:
            await feed.poll_once()
            record(store, job_id, 1)
            await feed.poll_once()
            async with feed.watch(job_id) as late:
                record(store, job_id, 0, 2)
                with store.writer() as session:
                    jobs.finish_job(session, job_id=job_id, result={"sum": 3})
                await feed.poll_once()
                return drain(early), drain(late)

    early, late = asyncio.run(scenario())
    assert summary(early) == [
        ("PENDING", 0, None),
        ("PROGRESS", 1, 1),
        ("PROGRESS", 2, 0),
        ("PROGRESS", 3, 2),
        ("SUCCESS", 3, None),
    ]
    assert early[-1].ended
    assert summary(late) == [("SUCCESS", 3, None)]


def test_one_read_serves_every_watcher_of_every_job(store: Store) -> None:
    job_ids = [make_job(store, chunks=2) for _ in range(3)]
    reads: list[int] = []

    async def scenario() -> None:
        feed = ProgressFeed(store, interval_s=3600, background=False)
        original = feed._read

        def counting(watched: set[uuid.UUID], fresh: set[uuid.UUID]):  # type: ignore[no-untyped-def]
            reads.append(len(watched))
            return original(watched, fresh)

        feed._read = counting  # type: ignore[method-assign,assignment]
        async with (
            feed.watch(job_ids[0]),
            feed.watch(job_ids[0]),
            feed.watch(job_ids[1]),
            feed.watch(job_ids[2]),
        ):
            await feed.poll_once()

    asyncio.run(scenario())
    assert reads == [3]


def test_a_watcher_far_behind_gets_the_state_instead_of_a_backlog(store: Store) -> None:
    job_id = make_job(store, chunks=1)

    async def scenario() -> list[ProgressEvent]:
        feed = ProgressFeed(store, interval_s=3600, background=False)
        async with feed.watch(job_id) as slow:
            for _ in range(QUEUE_EVENTS):
                slow.tell(ProgressEvent("PENDING", 0, 1, 0))
            record(store, job_id, 0)
            await feed.poll_once()
            return drain(slow)

    events = asyncio.run(scenario())
    assert summary(events) == [("PROGRESS", 1, None)]


def test_a_job_that_disappears_tells_its_watchers_so(store: Store) -> None:
    job_id = make_job(store, chunks=1)

    async def scenario() -> bool:
        feed = ProgressFeed(store, interval_s=3600, background=False)
        async with feed.watch(job_id) as watcher:
            with store.writer() as session:
                jobs.delete_job(session, job_id=job_id)
            await feed.poll_once()
            return watcher.gone

    assert asyncio.run(scenario())


def test_the_poller_runs_only_while_someone_watches(store: Store) -> None:
    job_id = make_job(store, chunks=1)

    async def scenario() -> tuple[ProgressEvent, bool]:
        feed = ProgressFeed(store, interval_s=0.01)
        async with feed.watch(job_id) as watcher:
            first = await asyncio.wait_for(watcher.queue.get(), timeout=10)
            task = feed._task
        assert task is not None
        await asyncio.wait_for(task, timeout=10)  # ends once nobody watches
        return first, feed.watched == 0

    first, idle = asyncio.run(scenario())
    assert (first.state, first.completed) == ("PENDING", 0) and idle
