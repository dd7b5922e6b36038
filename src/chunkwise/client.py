"""A thin HTTP client of the chunkwise API, for the CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

STREAM_TIMEOUT = httpx.Timeout(10.0, read=None)
"""A live stream may be quiet for long; the server's keep-alive comments show it lives."""
RECONNECT_PAUSE_S = 1.0


class ApiError(Exception):
    """Raised when the API answers with an error status or cannot be reached."""


class ApiClient:
    """Calls the jobs API at `base_url`."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s, headers=headers)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def submit(
        self, kind: str, params: dict[str, Any], chunks: int, *, cache: bool = True
    ) -> dict[str, Any]:
        return self._call(
            "POST",
            "/api/jobs",
            json={"kind": kind, "params": params, "chunks": chunks},
            params=None if cache else {"cache": "false"},
        )

    def login(self, email: str, password: str) -> dict[str, Any]:
        return self._call("POST", "/api/auth/login", json={"email": email, "password": password})

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/jobs/{job_id}")

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._call("POST", f"/api/jobs/{job_id}/cancel")

    def jobs(self, *, limit: int, offset: int = 0) -> dict[str, Any]:
        return self._call("GET", "/api/jobs", params={"limit": limit, "offset": offset})

    def events(self, job_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The job's live events, (name, data), until its `end` event.

        A stream that breaks is opened again (after RECONNECT_PAUSE_S); the first event
        of every stream restates the job's state, so nothing is lost but chunk detail.
        """
        while True:
            try:
                with self._http.stream(
                    "GET", f"/api/jobs/{job_id}/events", timeout=STREAM_TIMEOUT
                ) as response:
                    if response.is_error:
                        response.read()
                        raise ApiError(f"{response.status_code}: {_detail(response)}")
                    for name, data in _server_sent_events(response.iter_lines()):
                        yield name, data
                        if name == "end":
                            return
            except httpx.HTTPError:
                time.sleep(RECONNECT_PAUSE_S)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach the API at {self._http.base_url}: {exc}") from exc
        if response.is_error:
            raise ApiError(f"{response.status_code}: {_detail(response)}")
        body: dict[str, Any] = response.json()
        return body


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text


def _server_sent_events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, decoded data) of each event in a text/event-stream, comments skipped."""
    name, data = "message", ""
    for line in lines:
        if not line:
            if data:
                yield name, json.loads(data)
            name, data = "message", ""
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
