"""`Client` and `Job`: the API from ordinary (blocking) Python code.

One `Client` holds one connection pool and may be shared by threads; a `Job` is a handle
on one job through its client, cheap to make and holding no state of the job's own.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Iterator, Mapping
from contextlib import closing
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


class Client:
    """A client of the chunkwise API at `base_url`, sending `token`.

    Left out, `base_url` is CHUNKWISE_API_URL (else http://API_HOST:API_PORT) and `token`
    is CHUNKWISE_TOKEN, else the token `chunkwise login` kept; `token=""` sends none.
    Every error answer raises an `ApiError` subclass; use it in a with-block, or `close()`.
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout_s: float = TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        connection = resolve(base_url, token)
        self.timeout_s = timeout_s
        self._http = httpx.Client(
            base_url=connection.base_url,
            headers=client_headers(connection.token),
            timeout=timeout_s,
            transport=transport,
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def submit(
        self,
        kind: str,
        params: Mapping[str, Any],
        *,
        chunks: int | None = None,
        cache: bool = True,
        idempotency_key: str | None = None,
        callback_url: str | None = None,
    ) -> Job:
        """Submit a job; its handle. `chunks` None takes the service's default;
        `cache=False` recomputes every piece; the same `idempotency_key` and request
        again gives the same job rather than a second one."""
        call = calls.submit(
            kind,
            params,
            chunks=chunks,
            cache=cache,
            idempotency_key=idempotency_key,
            callback_url=callback_url,
        )
        accepted = calls.decode(self._send(call), JobAccepted)
        return Job(self, accepted.job_id, accepted=accepted)

    def job(self, job_id: JobId) -> Job:
        """A handle on a job submitted before (no request is made)."""
        return Job(self, job_id)

    def jobs(
        self,
        *,
        state: str | Iterable[str] | None = None,
        kind: str | Iterable[str] | None = None,
        page_size: int = JOBS_PAGE_SIZE,
    ) -> Iterator[JobView]:
        """Every job the token may see, newest first, of any of `state` and `kind` when
        given, read a page at a time as the iteration goes. A job submitted meanwhile
        pushes older ones down a page; none is given twice."""
        seen: set[str] = set()
        offset: int | None = 0
        while offset is not None:
            call = calls.jobs_page(state=state, kind=kind, offset=offset, limit=page_size)
            page = calls.decode(self._send(call), JobPage)
            yield from calls.unseen(page.items, seen)
            offset = page.next_offset

    def kinds(self) -> list[WorkloadKind]:
        """The workload kinds this service runs, with their parameters' schema."""
        return calls.decode_kinds(self._send(calls.kinds()))

    def login(self, email: str, password: str) -> str:
        """Sign in; an access token (send it as `Client(token=...)`)."""
        return calls.decode_token(self._send(calls.login(email, password)))

    def logout(self) -> None:
        """End this client's session on the server: its access token stops working at
        once (an API token is not affected; revoke it instead)."""
        calls.decode_ended(self._send(calls.logout()))

    def _send(self, call: Call) -> httpx.Response:
        try:
            return self._http.request(
                call.method,
                call.path,
                params=call.params or None,
                json=call.json,
                headers=call.headers or None,
            )
        except httpx.RequestError as exc:
            raise unreachable(self._http.base_url, exc) from exc

    def _events(self, job_id: str, deadline: float | None) -> Generator[JobEvent, None, None]:
        """The job's events until its end, through every reconnection."""
        reconnection = Reconnection(deadline)
        retry_s: float | None = None
        while True:
            reconnection.check_deadline()
            parser = EventStreamParser(retry_s=retry_s)
            try:
                # closing: left at the end event, the stream closes now, whatever the GC.
                with closing(self._stream_once(job_id, parser, reconnection)) as stream:
                    for event in stream:
                        yield event
                        if event.is_end:
                            return
                failure: ApiError = StreamDropped(None, "the stream closed before the job ended")
            except ApiError as exc:
                failure = exc
            retry_s = parser.retry_s
            time.sleep(reconnection.pause_s(failure, asked_s=retry_s))

    def _stream_once(
        self, job_id: str, parser: EventStreamParser, reconnection: Reconnection
    ) -> Generator[JobEvent, None, None]:
        """The events of one stream, until it ends or drops (ApiUnreachable)."""
        timeout = reconnection.timeout(self.timeout_s)
        try:
            with self._http.stream("GET", calls.events_path(job_id), timeout=timeout) as response:
                if response.is_error:
                    response.read()
                    raise error_from_response(response)
                reconnection.opened()
                for line in response.iter_lines():
                    event = parser.feed(line)
                    if event is not None:
                        yield event
                    reconnection.check_deadline()
        except httpx.RequestError as exc:
            raise unreachable(self._http.base_url, exc) from exc


class Job:
    """A handle on one job: its state, live events, result, cancellation."""

    def __init__(self, client: Client, job_id: JobId, *, accepted: JobAccepted | None = None):
        self.id = str(job_id)
        self.accepted = accepted
        """The API's answer to the submission, when this handle came from `submit`."""
        self._client = client

    def __repr__(self) -> str:
        return f"Job({self.id!r})"

    def status(self) -> JobView:
        """The job now: state, progress, and once ended its result or error."""
        return calls.decode(self._client._send(calls.job(self.id)), JobView)

    def events(self) -> Iterator[JobEvent]:
        """The job's live events: its state, one per recorded chunk, then `end` (at once
        if it has ended), after which the iteration stops. A stream that drops is opened
        again; the event that opens it restates the job."""
        return self._client._events(self.id, None)

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        """Follow the job to its end; its result. JobFailed or JobCancelled when it ended
        without one; TimeoutError when `timeout` seconds pass first (the job runs on)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with closing(self._client._events(self.id, deadline)) as events:
            for event in events:
                if event.is_end:
                    return calls.result_of(event.job or self.status())
        raise AssertionError("a job's events end with its end")  # pragma: no cover

    def cancel(self) -> JobView:
        """Cancel the job: its remaining chunks are skipped. Conflict if it has ended."""
        return calls.decode(self._client._send(calls.cancel(self.id)), JobView)

    def result_items(self, *, page_size: int = RESULT_PAGE_SIZE) -> Iterator[int]:
        """The items of a long result (a prime_list job's primes), in order, read a page
        at a time as the iteration goes. Conflict while the job has not succeeded."""
        offset: int | None = 0
        while offset is not None:
            call = calls.result_page(self.id, offset=offset, limit=page_size)
            page = calls.decode(self._client._send(call), ResultPage)
            yield from page.items
            offset = page.next_offset
