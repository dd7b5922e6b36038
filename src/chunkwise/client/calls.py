"""The API calls the clients make, as data, and the reading of their answers: what the
synchronous and the asynchronous client share, so each only sends and awaits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from chunkwise import __version__
from chunkwise.client.errors import JobCancelled, JobFailed, error_from_response
from chunkwise.schemas import JobCreate, JobView, WorkloadKind

M = TypeVar("M", bound=BaseModel)
KINDS = TypeAdapter(list[WorkloadKind])
QueryValue = str | int | float | bool | None
JobId = uuid.UUID | str
"""A job id as the caller has it: a UUID, or its text."""


class AccessToken(BaseModel):
    """What a sign-in answers; the client needs only the token."""

    access_token: str


def client_headers(token: str | None) -> dict[str, str]:
    """What every request sends: the token, when there is one, and who is asking."""
    headers = {"User-Agent": f"chunkwise-client/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


@dataclass(frozen=True)
class Call:
    """One request: what `httpx.Client.request` takes."""

    method: str
    path: str
    params: list[tuple[str, QueryValue]] = field(default_factory=list)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def submit(
    kind: str,
    params: Mapping[str, Any],
    *,
    chunks: int | None,
    cache: bool,
    idempotency_key: str | None,
    callback_url: str | None,
) -> Call:
    """POST /api/jobs. The body is a JobCreate, not validated here: the API checks it
    (against this service's bounds, which the client does not know) and says what is
    wrong in an InvalidRequest naming the field."""
    given: dict[str, Any] = {"kind": kind, "params": dict(params)}
    if chunks is not None:
        given["chunks"] = chunks
    if callback_url is not None:
        given["callback_url"] = callback_url
    body = JobCreate.model_construct(**given).model_dump(mode="json", exclude_unset=True)
    return Call(
        "POST",
        "/api/jobs",
        params=[] if cache else [("cache", "false")],
        json=body,
        headers={} if idempotency_key is None else {"Idempotency-Key": idempotency_key},
    )


def job(job_id: JobId) -> Call:
    return Call("GET", f"/api/jobs/{job_id}")


def cancel(job_id: JobId) -> Call:
    return Call("POST", f"/api/jobs/{job_id}/cancel")


def events_path(job_id: JobId) -> str:
    return f"/api/jobs/{job_id}/events"


def result_page(job_id: JobId, *, offset: int, limit: int) -> Call:
    return Call("GET", f"/api/jobs/{job_id}/result", params=[("offset", offset), ("limit", limit)])


def jobs_page(
    *, state: str | Iterable[str] | None, kind: str | Iterable[str] | None, offset: int, limit: int
) -> Call:
    """GET /api/jobs: a page of history, newest first, of any of the states and kinds."""
    query: list[tuple[str, QueryValue]] = [("limit", limit), ("offset", offset)]
    query += [("state", value) for value in _values(state)]
    query += [("kind", value) for value in _values(kind)]
    return Call("GET", "/api/jobs", params=query)


def kinds() -> Call:
    return Call("GET", "/api/kinds")


def login(email: str, password: str) -> Call:
    return Call("POST", "/api/auth/login", json={"email": email, "password": password})


def logout() -> Call:
    """End the session of the token the client sends (its access token)."""
    return Call("DELETE", "/api/auth/session")


def decode_ended(response: httpx.Response) -> None:
    """Nothing, or the typed error the answer is."""
    if response.is_error:
        raise error_from_response(response)


def decode(response: httpx.Response, model: type[M]) -> M:
    """The answer as `model`, or the typed error it is. Fields a newer API added to a
    model are ignored."""
    if response.is_error:
        raise error_from_response(response)
    return model.model_validate_json(response.content)


def decode_token(response: httpx.Response) -> str:
    return decode(response, AccessToken).access_token


def decode_kinds(response: httpx.Response) -> list[WorkloadKind]:
    if response.is_error:
        raise error_from_response(response)
    return KINDS.validate_json(response.content)


def result_of(view: JobView) -> dict[str, Any]:
    """An ended job's result; JobFailed or JobCancelled when it has none."""
    if view.state == "FAILURE":
        raise JobFailed(view)
    if view.state == "CANCELLED":
        raise JobCancelled(view)
    return view.result or {}


def unseen(views: Iterable[JobView], seen: set[str]) -> Iterator[JobView]:
    """The views whose job is not in `seen`, which each one joins: a job that moved to the
    next page (newer ones pushed it down) is given once."""
    for view in views:
        key = str(view.job_id)
        if key not in seen:
            seen.add(key)
            yield view


def _values(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
