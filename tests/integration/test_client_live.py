"""The Python client against a running system (API, broker, worker processes): submit,
live events through a dropped connection, wait, cancel, typed errors, paging."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chunkwise.client import (
    AsyncClient,
    Client,
    Conflict,
    InvalidRequest,
    Job,
    JobCancelled,
    JobEvent,
    JobFailed,
    NotFound,
)
from tests.live import LiveSystem, live_system
from tests.tcp_proxy import TcpProxy
from tests.waiting import wait_for
from tests.workloads.oracles import primes_in

pytestmark = pytest.mark.integration

LONG_JOB = {"n": 10**11, "method": "sieve"}
"""A prime count sieved for seconds on two workers (with cache=False): long enough to
cancel, or to cut the connection of, while it runs."""


@pytest.fixture
def client(live: LiveSystem) -> Iterator[Client]:
    with Client(live.api_url, token="") as client:
        yield client


class Follower(threading.Thread):
    """Reads a job's events on a thread of its own, into `events`."""

    def __init__(self, job: Job) -> None:
        super().__init__(daemon=True)
        self.job = job
        self.events: list[JobEvent] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.events.extend(self.job.events())
        except BaseException as exc:  # the test asserts on it
            self.error = exc

    def openings(self) -> int:
        """Streams opened so far: each opens with an event restating the job."""
        return sum(1 for event in self.events if not event.is_end and event.chunk is None)

    def chunks(self) -> int:
        return sum(1 for event in self.events if event.chunk is not None)


def test_submit_follow_and_wait(client: Client) -> None:
    job = client.submit("prime_count", {"n": 2 * 10**9, "method": "sieve"}, chunks=8, cache=False)
    events = list(job.events())
    # A stream opened on a running job restates it (chunks done before it opened
    # included), then brings every later chunk once, in order, with no gap; on a job that
    # ended first, it brings the end alone.
    opening, *_ = events
    if not opening.is_end:
        assert opening.chunk is None
        later = [event.completed for event in events if event.chunk is not None]
        assert later == list(range(opening.completed + 1, 9))
    assert events[-1].is_end and events[-1].job is not None
    assert events[-1].job.state == "SUCCESS"
    assert job.wait(timeout=60)["prime_count"] == 98_222_287
    status = job.status()
    assert (status.state, status.progress.completed, status.kind) == ("SUCCESS", 8, "prime_count")


def test_events_go_on_after_the_connection_drops(live: LiveSystem) -> None:
    # Given a job followed through a connection that can be cut
    api_port = httpx.URL(live.api_url).port
    assert api_port is not None
    with (
        TcpProxy("127.0.0.1", api_port) as proxy,
        Client(f"http://127.0.0.1:{proxy.port}", token="") as through_proxy,
    ):
        job = through_proxy.submit("prime_count", LONG_JOB, chunks=128, cache=False)
        follower = Follower(job)
        follower.start()
        wait_for(follower.chunks, timeout_s=60, what="the first chunk's event")
        # When the connection drops while the job runs
        proxy.cut()
        proxy.restore()
        # Then the client opens the stream again, and follows the job to its end
        wait_for(lambda: follower.openings() >= 2, timeout_s=30, what="a second stream")
        job.cancel()
        follower.join(timeout=60)
    assert not follower.is_alive() and follower.error is None
    assert follower.events[-1].is_end and follower.events[-1].state == "CANCELLED"


def test_cancel_ends_the_wait_with_job_cancelled(client: Client) -> None:
    job = client.submit("prime_count", LONG_JOB, chunks=128, cache=False)
    started = next(event for event in job.events() if event.chunk is not None)
    assert started.state in ("STARTED", "PROGRESS")
    assert job.cancel().state == "CANCELLED"
    with pytest.raises(JobCancelled) as raised:
        job.wait(timeout=60)
    assert raised.value.job.state == "CANCELLED"
    assert raised.value.job.progress.completed < 128
    with pytest.raises(Conflict) as again:
        job.cancel()
    assert again.value.status == 409 and "already ended" in again.value.message


def test_wait_times_out_and_the_job_runs_on(client: Client) -> None:
    job = client.submit("prime_count", LONG_JOB, chunks=128, cache=False)
    try:
        with pytest.raises(TimeoutError):
            job.wait(timeout=0.5)
        assert job.status().state in ("PENDING", "STARTED", "PROGRESS")
    finally:
        job.cancel()


def test_invalid_parameters_are_a_400_naming_the_field(client: Client) -> None:
    with pytest.raises(InvalidRequest) as raised:
        client.submit("prime_count", {"n": 9999})
    assert raised.value.status == 400 and raised.value.field == "params.n"
    assert raised.value.message.startswith("params.n: ")
    with pytest.raises(InvalidRequest) as unknown:
        client.submit("no_such_kind", {})
    assert unknown.value.field == "kind"
    with pytest.raises(InvalidRequest) as too_many:
        client.submit("sum_range", {"n": 10}, chunks=0)
    assert too_many.value.field == "chunks"


def test_an_unknown_job_is_not_found(client: Client) -> None:
    job_id = str(uuid.uuid4())
    for call in (client.job(job_id).status, client.job(job_id).cancel, client.job(job_id).wait):
        with pytest.raises(NotFound) as raised:
            call()
        assert raised.value.status == 404 and job_id in raised.value.message


def test_result_items_pages_through_a_long_result(client: Client) -> None:
    job = client.submit("prime_list", {"start": 0, "end": 100_000}, chunks=8)
    assert job.wait(timeout=60)["count"] == 9592
    assert list(job.result_items(page_size=1000)) == primes_in(0, 100_000)


def test_a_result_not_ready_is_a_conflict(client: Client) -> None:
    job = client.submit("prime_count", {"n": 10**6}, chunks=4)
    job.wait(timeout=60)
    with pytest.raises(Conflict) as raised:
        next(iter(job.result_items()))
    assert "no item list" in raised.value.message


def test_jobs_pages_through_history_by_state_and_kind(client: Client) -> None:
    ids = [client.submit("sum_range", {"n": 1000 + i}, chunks=2).id for i in range(5)]
    for job_id in ids:
        client.job(job_id).wait(timeout=60)
    other = client.submit("prime_count", {"n": 10**5}, chunks=2)
    other.wait(timeout=60)
    listed = list(client.jobs(state="SUCCESS", kind="sum_range", page_size=2))
    listed_ids = [str(view.job_id) for view in listed]
    assert len(listed_ids) == len(set(listed_ids))
    assert set(ids) <= set(listed_ids) and other.id not in listed_ids
    assert {(view.state, view.kind) for view in listed} == {("SUCCESS", "sum_range")}
    assert listed_ids.index(ids[-1]) < listed_ids.index(ids[0]), "newest first"
    with pytest.raises(InvalidRequest) as raised:
        next(client.jobs(state="DONE"))
    assert raised.value.field == "state"


def test_kinds(client: Client) -> None:
    kinds = {kind.kind: kind for kind in client.kinds()}
    assert {"sum_range", "prime_count", "prime_list", "monte_carlo"} <= set(kinds)
    assert "n" in kinds["prime_count"].params_schema["properties"]


def test_the_same_idempotency_key_gives_the_same_job(client: Client) -> None:
    key = uuid.uuid4().hex
    first = client.submit("sum_range", {"n": 500}, chunks=2, idempotency_key=key)
    again = client.submit("sum_range", {"n": 500}, chunks=2, idempotency_key=key)
    assert first.id == again.id
    assert again.wait(timeout=60)["sum"] == 125250


def test_async_client_submits_and_waits(live: LiveSystem) -> None:
    async def run() -> list[dict[str, Any]]:
        async with AsyncClient(live.api_url, token="") as client:
            jobs = [await client.submit("sum_range", {"n": n}, chunks=4) for n in (10, 100, 1000)]
            first = [event async for event in jobs[0].events()]
            assert first[-1].is_end
            return list(await asyncio.gather(*(job.wait(timeout=60) for job in jobs)))

    results = asyncio.run(run())
    assert [result["sum"] for result in results] == [55, 5050, 500500]


@pytest.fixture(scope="module")
def failing_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    """A system that also runs `broken`, a kind whose chunk of a chosen index raises."""
    root = tmp_path_factory.mktemp("failing")
    env = {"CHUNKWISE_EXTRA_WORKLOADS": "tests.reliability.faulty:Broken"}
    with live_system(root, workers=1, extra_env=env) as system:
        yield system


def test_wait_raises_job_failed_with_the_jobs_error(
    failing_system: LiveSystem, tmp_path: Path
) -> None:
    params = {"bad_index": 1, "chunk_s": 0.0, "log_dir": str(tmp_path)}
    with Client(failing_system.api_url, token="") as client:
        job = client.submit("broken", params, chunks=4)
        with pytest.raises(JobFailed) as raised:
            job.wait(timeout=60)
    assert raised.value.error == "chunk 1 failed: ZeroDivisionError: division by zero"
    assert raised.value.job.state == "FAILURE" and raised.value.job.result is None
