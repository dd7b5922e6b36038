"""Live progress with real workers, followed on two API processes that share one store:
every stream gets one event per finished chunk, in order, then the end, and closes."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

import httpx
import pytest

from chunkwise.client import Client, JobEvent
from chunkwise.launcher import api_answers, api_argv, free_port
from tests.live import LiveSystem
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

CHUNKS = 24


@pytest.fixture
def second_api(live: LiveSystem) -> Iterator[str]:
    """Another `chunkwise api` process on the same store and broker; its base URL."""
    settings = live.settings.model_copy(update={"api_port": free_port()})
    url = f"http://127.0.0.1:{settings.api_port}"
    live.group.spawn("api-2", api_argv(settings, "warning"), live.env)
    try:
        wait_for(lambda: api_answers(url), timeout_s=60, what="the second API")
        yield url
    finally:
        live.group.send_signal("api-2", signal.SIGTERM)
        wait_for(lambda: live.group.returncode("api-2") is not None, timeout_s=30, what="api-2")


class Watcher(threading.Thread):
    def __init__(self, base_url: str, job_id: str) -> None:
        super().__init__(daemon=True)
        self.client = Client(base_url, token="")
        self.job_id = job_id
        self.events: list[JobEvent] = []
        self.connected = threading.Event()

    def run(self) -> None:
        with self.client:
            for event in self.client.job(self.job_id).events():
                self.events.append(event)
                self.connected.set()


def test_both_api_processes_stream_every_chunk_in_order(live: LiveSystem, second_api: str) -> None:
    body = {"kind": "prime_count", "params": {"n": 10**10, "method": "sieve"}, "chunks": CHUNKS}
    response = live.http.post("/api/jobs", json=body, params={"cache": "false"})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    watchers = [Watcher(live.api_url, job_id), Watcher(second_api, job_id)]
    for watcher in watchers:
        watcher.start()
    for watcher in watchers:
        watcher.join(timeout=120)
        assert not watcher.is_alive(), "the stream ends after the job"

    for watcher in watchers:
        names = [event.name for event in watcher.events]
        assert names[-1] == "end" and names.count("end") == 1
        chunk_events = [event for event in watcher.events if event.chunk is not None]
        counts = [event.completed for event in chunk_events]
        assert counts == list(range(counts[0], CHUNKS + 1)), "one event per chunk, in order"
        first = watcher.events[0]
        assert first.chunk is None and first.completed == counts[0] - 1
        indices = [event.chunk.index for event in chunk_events if event.chunk is not None]
        assert len(set(indices)) == len(indices)
        end = watcher.events[-1]
        assert end.state == "SUCCESS" and end.job is not None and end.job.result is not None
        assert end.job.result["prime_count"] == 455_052_511


def test_a_stream_survives_until_the_end_through_http(live: LiveSystem) -> None:
    job_id = live.submit("sum_range", {"n": 1_000_000}, chunks=4)
    with httpx.stream("GET", f"{live.api_url}/api/jobs/{job_id}/events", timeout=60) as stream:
        assert stream.headers["cache-control"] == "no-store"
        lines = list(stream.iter_lines())
    assert "event: end" in lines
