"""GET /api/jobs/{id}/events over real HTTP: the state, one event per recorded chunk in
order, then the end, after which the stream closes. Chunks are recorded through the store
here, as a worker records them."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import ServeApi, ServedApi
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

Event = tuple[str, dict[str, Any]]


def submit(api: ServedApi, chunks: int) -> uuid.UUID:
    body = {"kind": "sum_range", "params": {"n": 1000}, "chunks": chunks}
    response = api.http.post("/api/jobs", json=body)
    assert response.status_code == 202, response.text
    return uuid.UUID(response.json()["job_id"])


def record(api: ServedApi, job_id: uuid.UUID, index: int) -> None:
    """Record chunk `index` as a worker would: the last one combines and ends the job."""
    from chunkwise.engine import ChunkRunner

    ChunkRunner(api.store, api.settings.workload_limits()).run(
        job_id=job_id, index=index, worker="test@host"
    )


def read_events(lines: Iterator[str]) -> Iterator[str | Event]:
    """Events as (name, data), and comments as their text."""
    name, data = "message", ""
    for line in lines:
        if line.startswith(":"):
            yield line
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif not line and data:
            yield name, json.loads(data)
            name, data = "message", ""


class Follower(threading.Thread):
    """Reads a job's stream in a thread until it closes, keeping every event."""

    def __init__(self, api: ServedApi, job_id: uuid.UUID) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{api.settings.api_port}/api/jobs/{job_id}/events"
        self.items: list[str | Event] = []
        self.headers: httpx.Headers | None = None

    def run(self) -> None:
        with httpx.stream("GET", self.url, timeout=httpx.Timeout(30.0)) as response:
            self.headers = response.headers
            for item in read_events(response.iter_lines()):
                self.items.append(item)

    @property
    def events(self) -> list[Event]:
        return [item for item in self.items if isinstance(item, tuple)]


def test_one_event_per_chunk_in_order_then_the_end_and_the_stream_closes(
    serve_api: ServeApi,
) -> None:
    with serve_api() as api:
        job_id = submit(api, chunks=5)
        follower = Follower(api, job_id)
        follower.start()
        wait_for(lambda: len(follower.events) >= 1, timeout_s=30, what="the first event")
        for done, index in enumerate((3, 0, 4, 1), start=1):
            record(api, job_id, index)
            wait_for(
                lambda done=done: follower.events[-1][1]["completed"] >= done,  # type: ignore[misc]
                timeout_s=30,
                what=f"the event of chunk {index}",
            )
        record(api, job_id, 2)
        follower.join(timeout=30)

    assert not follower.is_alive(), "the stream closes after the end"
    assert follower.headers is not None
    assert follower.headers["content-type"].startswith("text/event-stream")
    names = [name for name, _ in follower.events]
    assert names == ["progress"] * 6 + ["end"]
    first, *chunks = [data for name, data in follower.events if name == "progress"]
    assert (first["state"], first["completed"], first["total"], first["chunk"]) == (
        "PENDING",
        0,
        5,
        None,
    )
    assert [c["chunk"]["index"] for c in chunks] == [3, 0, 4, 1, 2]
    assert [c["completed"] for c in chunks] == [1, 2, 3, 4, 5]
    assert first["work_done"] == 0.0  # sum_range's chunks weigh the same
    assert [c["work_done"] for c in chunks] == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert chunks[0]["chunk"]["worker"] == "test@host"
    end = follower.events[-1][1]
    assert (end["state"], end["completed"], end["total"]) == ("SUCCESS", 5, 5)
    assert end["job"]["result"]["sum"] == 500500
    assert end["job"]["job_id"] == str(job_id)


def test_a_stream_opened_after_the_end_gives_the_end_at_once(serve_api: ServeApi) -> None:
    with serve_api() as api:
        job_id = submit(api, chunks=1)
        record(api, job_id, 0)
        follower = Follower(api, job_id)
        follower.run()
    assert [name for name, _ in follower.events] == ["end"]
    assert follower.events[0][1]["job"]["state"] == "SUCCESS"


def test_a_quiet_stream_sends_keep_alive_comments(serve_api: ServeApi) -> None:
    with serve_api(sse_heartbeat_s=0.05) as api:
        job_id = submit(api, chunks=1)
        follower = Follower(api, job_id)
        follower.start()
        wait_for(
            lambda: sum(item == ": keep-alive" for item in follower.items) >= 2,
            timeout_s=30,
            what="two keep-alive comments",
        )
        record(api, job_id, 0)
        follower.join(timeout=30)
    assert follower.events[-1][0] == "end"


def test_the_events_of_no_job_are_a_404_not_a_stream(serve_api: ServeApi) -> None:
    with serve_api() as api:
        response = api.http.get(f"/api/jobs/{uuid.uuid4()}/events")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("no job with id")
