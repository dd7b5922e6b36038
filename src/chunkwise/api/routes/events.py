"""A job's progress as Server-Sent Events: one event per recorded chunk, then the end."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from chunkwise.api.accounts.caller import Caller, CallerDep
from chunkwise.api.finished_jobs import FinishedBody, FinishedJobCache
from chunkwise.api.progress_feed import ProgressEvent, ProgressFeed
from chunkwise.api.routes.jobs import ERRORS, parse_job_id, read_job_body
from chunkwise.api.work_progress import WorkTally
from chunkwise.errors import JobNotFoundError

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

RETRY_MS = 1000
"""How long a browser's EventSource waits before it reconnects after a broken stream."""
EVENT_STREAM = "text/event-stream"

_STREAM_DESCRIPTION = """\
A stream of Server-Sent Events:

- `progress`: `{"job_id", "state", "completed", "total", "cached", "work_done", "chunk"}`.
  The first is the job's state when the stream opens (`chunk` null); then one per
  recorded chunk, in the order they were recorded, `chunk` being `{"index", "worker",
  "cache_hits"}`. `work_done` is the share of the job's work recorded (0 to 1), where a
  kind's chunks differ in size: the time left is best estimated from it.
- `end`: `{"job_id", "state", "completed", "total", "cached", "job"}` once the job is
  SUCCESS, FAILURE or CANCELLED, `job` being what `GET /api/jobs/{id}` answers; then the
  stream closes. A stream opened after the end gives this event at once.

A `: keep-alive` comment comes every CHUNKWISE_SSE_HEARTBEAT_S seconds of quiet.
"""


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": _STREAM_DESCRIPTION,
            "content": {EVENT_STREAM: {"schema": {"type": "string"}}},
        },
        404: ERRORS[404],
        503: ERRORS[503],
    },
)
async def events(job_id: str, request: Request, caller: CallerDep) -> StreamingResponse:
    """Follow a job live: its state, then one event per finished chunk, then the end."""
    return await job_events(request, parse_job_id(job_id), caller, demo=False)


async def job_events(
    request: Request, job_id: uuid.UUID, caller: Caller, *, demo: bool
) -> StreamingResponse:
    """The event stream of a job the caller may see (404 before any stream otherwise)."""
    state = request.app.state
    first = await _job_body(request, job_id, caller, demo)
    heartbeat_s: float = state.settings.sse_heartbeat_s
    stream = (
        _ended(job_id, first.body)
        if isinstance(first, FinishedBody)
        else _follow(request, job_id, caller, demo, heartbeat_s)
    )
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type=EVENT_STREAM, headers=headers)


async def _job_body(
    request: Request, job_id: uuid.UUID, caller: Caller, demo: bool
) -> bytes | FinishedBody:
    """The job's answer as GET /api/jobs/{id} gives it, from the finished-job cache when
    it has ended."""
    state = request.app.state
    finished_jobs: FinishedJobCache = state.finished_jobs
    now = time.time()
    cached = finished_jobs.get(job_id, now=now)
    if cached is not None:
        visible = cached.demo if demo else caller.may_see(cached.owner_id, cached.demo)
        if not visible:
            raise JobNotFoundError(f"no job with id {job_id}")
        return cached
    read = await run_in_threadpool(
        partial(read_job_body, demo=demo), state.store, job_id, state.settings, now, caller
    )
    if isinstance(read, FinishedBody):
        finished_jobs.put(job_id, read)
    return read


async def _ended(job_id: uuid.UUID, body: bytes) -> AsyncIterator[bytes]:
    yield _retry_hint()
    yield _end_event(job_id, body)


async def _follow(
    request: Request, job_id: uuid.UUID, caller: Caller, demo: bool, heartbeat_s: float
) -> AsyncIterator[bytes]:
    feed: ProgressFeed = request.app.state.progress_feed
    yield _retry_hint()
    tally = await run_in_threadpool(WorkTally.load, request.app.state.store, job_id)
    async with feed.watch(job_id) as subscription:
        while True:
            try:
                event = await asyncio.wait_for(subscription.queue.get(), timeout=heartbeat_s)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield b": keep-alive\n\n"
                continue
            if subscription.gone:
                return
            if not event.ended:
                if tally is not None and event.chunk is not None:
                    tally.record(event.chunk.index)
                yield _progress_event(job_id, event, None if tally is None else tally.fraction)
                continue
            read = await _job_body(request, job_id, caller, demo)
            body = read.body if isinstance(read, FinishedBody) else read
            yield _end_event(job_id, body)
            return


def _retry_hint() -> bytes:
    return f"retry: {RETRY_MS}\n\n".encode()


def _progress_event(job_id: uuid.UUID, event: ProgressEvent, work_done: float | None) -> bytes:
    chunk = event.chunk
    data: dict[str, Any] = {
        "job_id": str(job_id),
        "state": event.state,
        "completed": event.completed,
        "total": event.total,
        "cached": event.cached,
        "work_done": None if work_done is None else round(work_done, 4),
        "chunk": None
        if chunk is None
        else {"index": chunk.index, "worker": chunk.worker, "cache_hits": chunk.cache_hits},
    }
    return _sse("progress", json.dumps(data, separators=(",", ":")).encode())


def _end_event(job_id: uuid.UUID, body: bytes) -> bytes:
    """The end: the job's counters, then the whole answer of GET /api/jobs/{id} as `job`,
    spliced in as the bytes that route sends (exact integers of any size included)."""
    job = json.loads(body)
    progress = job["progress"]
    head = {
        "job_id": str(job_id),
        "state": job["state"],
        "completed": progress["completed"],
        "total": progress["total"],
        "cached": progress["cached"],
    }
    encoded = json.dumps(head, separators=(",", ":")).encode()
    return _sse("end", encoded[:-1] + b',"job":' + body + b"}")


def _sse(name: str, data: bytes) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"
