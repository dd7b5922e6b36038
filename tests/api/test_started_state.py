"""A job reads STARTED from its first chunk's start until a chunk is recorded (seed 000's
PENDING → STARTED → PROGRESS → SUCCESS), on every surface that shows states, though
starting a chunk writes only the chunk: the state is read, not stored."""

from __future__ import annotations

import asyncio
import uuid

from chunkwise.api.progress_feed import ProgressFeed
from chunkwise.store import JobState, Store, jobs, recording
from chunkwise.store.inspection import job_stats
from tests.api.in_process import Api
from tests.store.sample_jobs import make_job


def start(store: Store, job_id: uuid.UUID, index: int = 0) -> None:
    """What a worker does as it takes a chunk: count the start, and nothing else."""
    with store.write_connection() as connection:
        recording.start_chunk(connection, job_id=job_id, index=index, max_attempts=5, worker="w")


def record(store: Store, job_id: uuid.UUID, index: int = 0) -> None:
    with store.write_connection() as connection:
        recording.record_chunk(connection, job_id=job_id, index=index, partial=1, worker="w")


def test_the_job_resource_reads_pending_then_started_then_progress(api: Api) -> None:
    job_id = api.submitted(chunks=2, n=100)
    assert api.http.get(f"/api/jobs/{job_id}").json()["state"] == "PENDING"

    start(api.store, job_id)
    view = api.http.get(f"/api/jobs/{job_id}").json()
    assert view["state"] == "STARTED" and view["started_at"] is not None
    with api.store.reader() as session:  # the row itself was not written
        row = jobs.get_job(session, job_id=job_id)
        assert row is not None and row.state is JobState.PENDING and row.started_at is None

    record(api.store, job_id)
    assert api.http.get(f"/api/jobs/{job_id}").json()["state"] == "PROGRESS"


def test_lists_filters_and_counts_show_started(api: Api) -> None:
    waiting, started = api.submitted(n=10), api.submitted(n=20)
    start(api.store, started, index=1)

    listed = {item["job_id"]: item["state"] for item in api.http.get("/api/jobs").json()["items"]}
    assert listed == {str(waiting): "PENDING", str(started): "STARTED"}
    only_started = api.http.get("/api/jobs", params={"state": "STARTED"}).json()
    assert [item["job_id"] for item in only_started["items"]] == [str(started)]
    assert only_started["total"] == 1
    only_pending = api.http.get("/api/jobs", params={"state": "PENDING"}).json()
    assert [item["job_id"] for item in only_pending["items"]] == [str(waiting)]
    counts = api.http.get("/api/stats").json()["jobs"]["by_state"]
    assert (counts["PENDING"], counts["STARTED"]) == (1, 1)


def test_a_start_given_back_reads_pending_again(store: Store) -> None:
    job_id = make_job(store, chunks=2)
    start(store, job_id)
    with store.reader() as session:
        assert job_stats(session).by_state == {"STARTED": 1}
    with store.writer() as session:
        recording.give_back_start(session, job_id=job_id, index=0)
    with store.reader() as session:
        assert job_stats(session).by_state == {"PENDING": 1}


def test_live_progress_tells_watchers_of_the_start(store: Store) -> None:
    job_id = make_job(store, chunks=2)

    async def scenario() -> list[str]:
        feed = ProgressFeed(store, interval_s=3600, background=False)
        async with feed.watch(job_id) as watcher:
            await feed.poll_once()
            start(store, job_id)
            await feed.poll_once()
            record(store, job_id)
            await feed.poll_once()
            states = []
            while not watcher.queue.empty():
                states.append(watcher.queue.get_nowait().state)
            return states

    assert asyncio.run(scenario()) == ["PENDING", "STARTED", "PROGRESS"]


def test_the_seed_surfaces_show_the_start_in_their_words(api: Api) -> None:
    sum_job = api.http.post("/jobs", json={"n": 100, "chunks": 2}).json()["job_id"]
    task = api.http.post("/tasks", json={"data": {"amount": 100, "rate": 0.05}}).json()
    queue_task = api.http.post(
        "/submit-task", json={"task_type": "compute", "task_data": {"limit": 1000}}
    ).json()["data"]
    for job_id in (sum_job, task["task_id"], queue_task["job_id"]):
        start(api.store, uuid.UUID(job_id))

    assert api.http.get(f"/api/jobs/{sum_job}").json()["state"] == "STARTED"  # seed 000's
    assert api.http.get(f"/jobs/{sum_job}").json()["status"] == "running"
    assert api.http.get(f"/tasks/{task['task_id']}").json()["status"] == "STARTED"
    queued = api.http.get(f"/task/{queue_task['task_id']}").json()["data"]
    assert queued["status"] == "in_progress"
    assert api.http.get("/stats").json()["data"]["in_progress_tasks"] == 3
