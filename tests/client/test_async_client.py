"""`AsyncClient` and `AsyncJob` against the fake API: the same calls as the blocking
client, awaited, with the same typed answers, errors and reconnection."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from chunkwise.client import AsyncClient, Conflict, JobEvent, JobFailed, NotFound
from tests.client.fake_api import (
    JOB_ID,
    RETRY_FAST,
    FakeApi,
    answer,
    end,
    job_view,
    progress,
    stream,
    unreachable,
)

EVENTS = f"/api/jobs/{JOB_ID}/events"


def test_submit_and_wait_through_a_dropped_stream() -> None:
    api = (
        FakeApi()
        .on("POST", "/api/jobs", answer(202, {"job_id": JOB_ID, "status": "PENDING"}))
        .on(
            "GET",
            EVENTS,
            stream(RETRY_FAST, progress(0), progress(1, index=2), drop=True),
            unreachable,
            stream(RETRY_FAST, progress(1), end(job_view(result={"sum": 10**30}))),
        )
    )

    async def run() -> tuple[str, dict[str, Any]]:
        async with api.async_client(token="cw_t") as client:
            job = await client.submit("sum_range", {"n": 10}, chunks=2, idempotency_key="k")
            return job.id, await job.wait(timeout=10)

    job_id, result = asyncio.run(run())
    assert job_id == JOB_ID and result == {"sum": 10**30}
    [submitted] = api.sent("POST", "/api/jobs")
    assert json.loads(submitted.content) == {"kind": "sum_range", "params": {"n": 10}, "chunks": 2}
    assert submitted.headers["Idempotency-Key"] == "k"
    assert submitted.headers["Authorization"] == "Bearer cw_t"
    assert len(api.sent("GET", EVENTS)) == 3


def test_events_are_an_async_iterator_to_the_end() -> None:
    api = FakeApi().on("GET", EVENTS, stream(progress(0), progress(1, index=0), end(job_view())))

    async def run() -> list[JobEvent]:
        async with api.async_client() as client:
            return [event async for event in client.job(JOB_ID).events()]

    events = asyncio.run(run())
    assert [event.name for event in events] == ["progress", "progress", "end"]
    assert events[-1].job is not None and events[-1].job.result == {"sum": 5050}


def test_wait_raises_job_failed_and_times_out() -> None:
    failed = job_view("FAILURE", error="ValueError: bad chunk")
    quiet = [b": keep-alive\n\n"] * 150
    api = (
        FakeApi()
        .on("GET", EVENTS, stream(end(failed)))
        .on("GET", "/api/jobs/other/events", stream(progress(0), *quiet, pause_s=0.02))
    )

    async def run() -> float:
        async with api.async_client() as client:
            with pytest.raises(JobFailed) as raised:
                await client.job(JOB_ID).wait()
            assert raised.value.error == "ValueError: bad chunk"
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                await client.job("other").wait(timeout=0.3)
            return time.monotonic() - started

    assert 0.3 <= asyncio.run(run()) < 2.0


def test_errors_status_jobs_and_result_items() -> None:
    page = {"items": [job_view()], "total": 1, "limit": 100, "offset": 0, "next_offset": None}
    items = {
        "job_id": JOB_ID,
        "total": 3,
        "offset": 0,
        "limit": 1000,
        "items": [2, 3, 5],
        "next_offset": None,
    }
    api = (
        FakeApi()
        .on("GET", f"/api/jobs/{JOB_ID}", answer(404, {"detail": "gone"}))
        .on("POST", f"/api/jobs/{JOB_ID}/cancel", answer(409, {"detail": "already ended"}))
        .on("GET", "/api/jobs", answer(200, page))
        .on("GET", f"/api/jobs/{JOB_ID}/result", answer(200, items))
    )

    async def run() -> tuple[list[str], list[int]]:
        async with api.async_client() as client:
            job = client.job(JOB_ID)
            with pytest.raises(NotFound):
                await job.status()
            with pytest.raises(Conflict, match="already ended"):
                await job.cancel()
            listed = [view.kind async for view in client.jobs(state="SUCCESS")]
            return listed, [item async for item in job.result_items()]

    assert asyncio.run(run()) == (["sum_range"], [2, 3, 5])
    assert api.sent("GET", "/api/jobs")[0].url.params["state"] == "SUCCESS"


def test_the_async_client_closes_its_connections() -> None:
    async def run() -> AsyncClient:
        async with AsyncClient(
            "http://api.test", "", transport=httpx.MockTransport(FakeApi())
        ) as c:
            return c

    assert asyncio.run(run())._http.is_closed
