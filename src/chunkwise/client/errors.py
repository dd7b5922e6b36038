"""What the client raises: the API's error answers, one class per status, and the two
ways a job can end without a result.

ClientError
 ├── MalformedEvent           (events.py) a live event the client cannot read
 ├── ApiError                 any error answer: .status, .message, .field, .retry_after_s
 │    ├── ApiUnreachable      no answer at all (status None): refused, timed out, dropped
 │    │    └── StreamDropped  (reconnect.py) a live stream closed before the job's end
 │    ├── InvalidRequest      400  invalid parameters, chunk count, filter, callback URL
 │    ├── Unauthorized        401  a wrong or expired token, or none where one is needed
 │    ├── Forbidden           403  sent, it seems, by another site's page
 │    ├── NotFound            404  no such job (or not yours, or expired)
 │    ├── Conflict            409  the job has ended; an Idempotency-Key still in use
 │    ├── Unprocessable       422  an Idempotency-Key reused with another body
 │    ├── RateLimited         429  too much unfinished work or a rate limit
 │    ├── ServiceUnavailable  503  the broker or the store does not answer
 │    └── ServerError         any other 5xx
 └── JobError                 a job ended without a result: .job, its final view
      ├── JobFailed           FAILURE, with .error
      └── JobCancelled        CANCELLED

Job.wait's time running out is the builtin TimeoutError.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import httpx

from chunkwise.schemas import JobView

MESSAGE_CHARS = 500
"""How much of an answer that is not the API's JSON (a proxy's HTML page) a message keeps."""


class ClientError(Exception):
    """Base of everything the client raises on purpose."""


class ApiError(ClientError):
    """Raised when the API answers with an error status, or (`ApiUnreachable`) not at all.

    `field` names the request field at fault when the API says (e.g. `params.n`);
    `retry_after_s` is the answer's Retry-After, when it has one.
    """

    def __init__(
        self,
        status: int | None,
        message: str,
        *,
        field: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message if status is None else f"{status}: {message}")
        self.status = status
        self.message = message
        self.field = field
        self.retry_after_s = retry_after_s


class ApiUnreachable(ApiError):
    """Raised when no answer came: the connection was refused, timed out or dropped."""


class InvalidRequest(ApiError):
    """Raised on a 400: the request cannot be run as asked; `field` says which part."""


class Unauthorized(ApiError):
    """Raised on a 401: the token is wrong, expired or revoked, or none was sent where
    accounts are on."""


class Forbidden(ApiError):
    """Raised on a 403: the request seems to come from another site's page, and is
    refused."""


class NotFound(ApiError):
    """Raised on a 404: no such job, or one the token may not see, or one expired."""


class Conflict(ApiError):
    """Raised on a 409: the job's state does not allow it (it has ended), or a request
    with the same Idempotency-Key is still being handled (see `retry_after_s`)."""


class Unprocessable(ApiError):
    """Raised on a 422: an Idempotency-Key was sent before with another body."""


class RateLimited(ApiError):
    """Raised on a 429: too much unfinished work or too many submissions; try again
    after `retry_after_s`."""


class ServiceUnavailable(ApiError):
    """Raised on a 503: the broker or the store behind the API does not answer."""


class ServerError(ApiError):
    """Raised on any other 5xx: the API, or a proxy in front of it, failed."""


ERROR_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
    429: RateLimited,
    503: ServiceUnavailable,
}


class JobError(ClientError):
    """Raised when a job ended without a result; `job` is its final view."""

    def __init__(self, job: JobView, message: str) -> None:
        super().__init__(message)
        self.job = job


class JobFailed(JobError):
    """Raised by `wait` when the job ended in FAILURE; `error` is the job's error."""

    def __init__(self, job: JobView) -> None:
        super().__init__(job, f"job {job.job_id} failed: {job.error}")
        self.error = job.error


class JobCancelled(JobError):
    """Raised by `wait` when the job was cancelled before its result."""

    def __init__(self, job: JobView) -> None:
        done, total = job.progress.completed, job.progress.total
        super().__init__(job, f"job {job.job_id} was cancelled after {done}/{total} chunks")


def error_from_response(response: httpx.Response) -> ApiError:
    """The typed error of an error answer whose body has been read."""
    status = response.status_code
    kind = ERROR_BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    message, field = _message_and_field(response)
    return kind(status, message, field=field, retry_after_s=_retry_after_s(response))


def unreachable(base_url: httpx.URL | str, exc: httpx.RequestError) -> ApiUnreachable:
    """The error for a request that got no answer."""
    reason = str(exc) or type(exc).__name__
    return ApiUnreachable(None, f"cannot reach the API at {base_url}: {reason}")


def _message_and_field(response: httpx.Response) -> tuple[str, str | None]:
    """The API's `{"detail", "field"}`; FastAPI's own validation answer, whose detail is
    a list of `{"loc", "msg"}`; or, from anything else, the text or the reason."""
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        text = response.text.strip()[:MESSAGE_CHARS]
        return text or response.reason_phrase or "no message", None
    if not isinstance(body, dict) or "detail" not in body:
        return json.dumps(body)[:MESSAGE_CHARS], None
    detail, field = body["detail"], body.get("field")
    if isinstance(detail, list):
        return _validation_errors(detail, field)
    message = detail if isinstance(detail, str) else json.dumps(detail)
    return message, field if isinstance(field, str) else None


def _validation_errors(errors: list[Any], field: Any) -> tuple[str, str | None]:
    """`where: msg` for each of FastAPI's validation errors, as chunkwise's own handler
    words them (`params.n`, `query.limit`); the first one's place."""
    messages, places = [], []
    for error in errors:
        if not isinstance(error, dict):
            messages.append(str(error))
            continue
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        where = ".".join(location) or "body"
        places.append(where)
        messages.append(f"{where}: {error.get('msg', 'invalid')}")
    first = field if isinstance(field, str) else (places[0] if places else None)
    return "; ".join(messages) or "invalid request", first


def _retry_after_s(response: httpx.Response) -> float | None:
    """Retry-After as seconds: it is a number of seconds or an HTTP date."""
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
