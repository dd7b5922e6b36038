"""`AsyncClient` and `AsyncJob`: the same API as `Client` and `Job` for asyncio code, where
following many jobs at once costs one task each rather than a thread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from contextlib import aclosing
from types import TracebackType
from typing import Any

import httpx

from chunkwise.client import calls
from chunkwise.client.calls import Call, JobId, client_headers
from chunkwise.client.configuration import resolve
from chunkwise.client.defaults import JOBS_PAGE_SIZE, RESULT_PAGE_SIZE, TIMEOUT_S
from chunkwise.client.errors import ApiError, error_from_response, unreachable
from chunkwise.client.events import EventStreamParser, JobEvent
from chunkwise.client.reconnect import Reconnection, StreamDropped
from chunkwise.schemas import JobAccepted, JobPage, JobView, ResultPage, WorkloadKind


class AsyncClient:
    """`Client` for asyncio: the same arguments and defaults; its calls are awaited and
    its iterations are `async for`. Use it in an `async with` block, or `await aclose()`."""

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout_s: float = TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        connection = resolve(base_url, token)
        self.timeout_s = timeout_s
        self._http = httpx.AsyncClient(
            base_url=connection.base_url,
            headers=client_headers(connection.token),
            timeout=timeout_s,
            transport=transport,
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def submit(
        self,
        kind: str,
        params: Mapping[str, Any],
        *,
        chunks: int | None = None,
        cache: bool = True,
        idempotency_key: str | None = None,
        callback_url: str | None = None,
    ) -> AsyncJob:
        """Submit a job; its handle (see `Client.submit`)."""
        call = calls.submit(
            kind,
            params,
            chunks=chunks,
            cache=cache,
            idempotency_key=idempotency_key,
            callback_url=callback_url,
        )
        accepted = calls.decode(await self._send(call), JobAccepted)
        return AsyncJob(self, accepted.job_id, accepted=accepted)

    def job(self, job_id: JobId) -> AsyncJob:
        """A handle on a job submitted before (no request is made)."""
        return AsyncJob(self, job_id)

    async def jobs(
        self,
        *,
        state: str | Iterable[str] | None = None,
        kind: str | Iterable[str] | None = None,
        page_size: int = JOBS_PAGE_SIZE,
    ) -> AsyncIterator[JobView]:
        """Every job the token may see, newest first, a page at a time (see `Client.jobs`)."""
        seen: set[str] = set()
        offset: int | None = 0
        while offset is not None:
            call = calls.jobs_page(state=state, kind=kind, offset=offset, limit=page_size)
            page = calls.decode(await self._send(call), JobPage)
            for view in calls.unseen(page.items, seen):
                yield view
            offset = page.next_offset

    async def kinds(self) -> list[WorkloadKind]:
        """The workload kinds this service runs, with their parameters' schema."""
        return calls.decode_kinds(await self._send(calls.kinds()))

    async def login(self, email: str, password: str) -> str:
        """Sign in; an access token."""
        return calls.decode_token(await self._send(calls.login(email, password)))

    async def logout(self) -> None:
        """End this client's session on the server: its access token stops working at
        once (an API token is not affected; revoke it instead)."""
        calls.decode_ended(await self._send(calls.logout()))

    async def _send(self, call: Call) -> httpx.Response:
        try:
            return await self._http.request(
                call.method,
                call.path,
                params=call.params or None,
                json=call.json,
                headers=call.headers or None,
            )
        except httpx.RequestError as exc:
            raise unreachable(self._http.base_url, exc) from exc

    async def _events(self, job_id: str, deadline: float | None) -> AsyncGenerator[JobEvent, None]:
        """The job's events until its end, through every reconnection."""
        reconnection = Reconnection(deadline)
        retry_s: float | None = None
        while True:
            reconnection.check_deadline()
            parser = EventStreamParser(retry_s=retry_s)
            try:
                # aclosing: left at the end event, the stream closes now, not at GC.
                async with aclosing(self._stream_once(job_id, parser, reconnection)) as stream:
                    async for event in stream:
                        yield event
                        if event.is_end:
                            return
                failure: ApiError = StreamDropped(None, "the stream closed before the job ended")
            except ApiError as exc:
                failure = exc
            retry_s = parser.retry_s
            await asyncio.sleep(reconnection.pause_s(failure, asked_s=retry_s))

    async def _stream_once(
        self, job_id: str, parser: EventStreamParser, reconnection: Reconnection
    ) -> AsyncGenerator[JobEvent, None]:
        """The events of one stream, until it ends or drops (ApiUnreachable)."""
        timeout = reconnection.timeout(self.timeout_s)
        path = calls.events_path(job_id)
        try:
            async with self._http.stream("GET", path, timeout=timeout) as response:
                if response.is_error:
                    await response.aread()
                    raise error_from_response(response)
                reconnection.opened()
                async for line in response.aiter_lines():
                    event = parser.feed(line)
                    if event is not None:
                        yield event
                    reconnection.check_deadline()
        except httpx.RequestError as exc:
            raise unreachable(self._http.base_url, exc) from exc


class AsyncJob:
    """A handle on one job for asyncio code (see `Job`)."""

    def __init__(
        self, client: AsyncClient, job_id: JobId, *, accepted: JobAccepted | None = None
    ) -> None:
        self.id = str(job_id)
        self.accepted = accepted
        """The API's answer to the submission, when this handle came from `submit`."""
        self._client = client

    def __repr__(self) -> str:
        return f"AsyncJob({self.id!r})"

    async def status(self) -> JobView:
        """The job now: state, progress, and once ended its result or error."""
        return calls.decode(await self._client._send(calls.job(self.id)), JobView)

    def events(self) -> AsyncGenerator[JobEvent, None]:
        """The job's live events to its `end` (see `Job.events`); left early, close it
        (`contextlib.aclosing`) to close its stream at once."""
        return self._client._events(self.id, None)

    async def wait(self, timeout: float | None = None) -> dict[str, Any]:
        """Follow the job to its end; its result (see `Job.wait`)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        async with aclosing(self._client._events(self.id, deadline)) as events:
            async for event in events:
                if event.is_end:
                    return calls.result_of(event.job or await self.status())
        raise AssertionError("a job's events end with its end")  # pragma: no cover

    async def cancel(self) -> JobView:
        """Cancel the job: its remaining chunks are skipped. Conflict if it has ended."""
        return calls.decode(await self._client._send(calls.cancel(self.id)), JobView)

    async def result_items(self, *, page_size: int = RESULT_PAGE_SIZE) -> AsyncIterator[int]:
        """The items of a long result, in order, a page at a time (see `Job.result_items`)."""
        offset: int | None = 0
        while offset is not None:
            call = calls.result_page(self.id, offset=offset, limit=page_size)
            page = calls.decode(await self._client._send(call), ResultPage)
            for item in page.items:
                yield item
            offset = page.next_offset
