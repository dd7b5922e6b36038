"""A fake chunkwise API for the client's unit tests: answers by method and path, in the
order given, and keeps every request it was sent."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx

from chunkwise.client import AsyncClient, Client

BASE_URL = "http://api.test"
JOB_ID = "6f1c2a9e-1b2c-4d3e-8f40-5a6b7c8d9e0f"
Answer = Callable[[httpx.Request], httpx.Response]


def job_view(state: str = "SUCCESS", **fields: Any) -> dict[str, Any]:
    """A job as GET /api/jobs/{id} answers it; `fields` replace the defaults."""
    return {
        "job_id": JOB_ID,
        "kind": "sum_range",
        "params": {"n": 100},
        "state": state,
        "progress": {"completed": 4, "total": 4, "cached": 0},
        "cache": True,
        "result": {"sum": 5050} if state == "SUCCESS" else None,
        "error": None,
        "created_at": "2025-01-02T03:04:05Z",
        "started_at": None,
        "finished_at": None,
        "duration_sec": 0.5,
        **fields,
    }


def sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def progress(completed: int, *, total: int = 4, index: int | None = None) -> bytes:
    """A progress event: a chunk's record, or (index None) the opening restatement."""
    chunk = None if index is None else {"index": index, "worker": "w1", "cache_hits": 0}
    data = {
        "job_id": JOB_ID,
        "state": "PROGRESS",
        "completed": completed,
        "total": total,
        "cached": 0,
        "work_done": completed / total,
        "chunk": chunk,
    }
    return sse("progress", data)


def end(view: dict[str, Any]) -> bytes:
    counters = {key: view["progress"][key] for key in ("completed", "total", "cached")}
    return sse("end", {"job_id": JOB_ID, "state": view["state"], **counters, "job": view})


RETRY_FAST = b"retry: 10\n\n"
"""What a stream opens with (the API says 1000 ms), short for the tests."""


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A streamed body: `parts` one by one, `pause_s` apart, then, if `drop`, the
    connection fails as one that drops does."""

    def __init__(self, *parts: bytes, drop: bool = False, pause_s: float = 0.0) -> None:
        self.parts, self.drop, self.pause_s = parts, drop, pause_s

    def __iter__(self) -> Iterator[bytes]:
        for number, part in enumerate(self.parts):
            if number and self.pause_s:
                time.sleep(self.pause_s)
            yield part
        self._end()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for number, part in enumerate(self.parts):
            if number and self.pause_s:
                await asyncio.sleep(self.pause_s)
            yield part
        self._end()

    def _end(self) -> None:
        if self.drop:
            raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


def stream(*parts: bytes, **how: Any) -> Answer:
    """An answer of GET /events: an event stream of `parts` (see Body)."""
    return lambda _: httpx.Response(
        200, headers={"content-type": "text/event-stream"}, stream=Body(*parts, **how)
    )


def answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Answer:
    """A JSON answer; `body` as bytes is sent as it is."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return lambda _: httpx.Response(status, content=content, headers=headers)


def unreachable(_: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused")


class FakeApi:
    """Answers each (method, path) with its answers in turn, the last one again and
    again; a request with no answer is a 500 that fails the test."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Answer]] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *answers: Answer) -> FakeApi:
        self.routes[(method, path)] = list(answers)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answers = self.routes.get((request.method, request.url.path))
        if not answers:
            raise AssertionError(f"the fake API has no answer to {request.method} {request.url}")
        return (answers.pop(0) if len(answers) > 1 else answers[0])(request)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if (r.method, r.url.path) == (method, path)]

    def client(self, token: str = "", **options: Any) -> Client:
        return Client(BASE_URL, token, transport=httpx.MockTransport(self), **options)

    def async_client(self, token: str = "", **options: Any) -> AsyncClient:
        return AsyncClient(BASE_URL, token, transport=httpx.MockTransport(self), **options)
