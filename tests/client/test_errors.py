"""Every error answer is raised as the class of its status, carrying the status, the
API's message and the field at fault; no answer at all is ApiUnreachable."""

from __future__ import annotations

import email.utils
import time

import pytest

from chunkwise.client import (
    ApiError,
    ApiUnreachable,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
)
from tests.client.fake_api import JOB_ID, FakeApi, answer, unreachable

STATUSES: list[tuple[int, type[ApiError]]] = [
    (400, InvalidRequest),
    (401, Unauthorized),
    (403, Forbidden),
    (404, NotFound),
    (409, Conflict),
    (422, Unprocessable),
    (429, RateLimited),
    (503, ServiceUnavailable),
    (500, ServerError),
    (502, ServerError),
    (418, ApiError),
]


@pytest.mark.parametrize(("status", "kind"), STATUSES)
def test_each_status_raises_its_class_with_message_and_field(
    status: int, kind: type[ApiError]
) -> None:
    api = FakeApi().on(
        "POST", "/api/jobs", answer(status, {"detail": "params.n: too big", "field": "params.n"})
    )
    with api.client() as client, pytest.raises(ApiError) as raised:
        client.submit("prime_count", {"n": 10**30})
    assert type(raised.value) is kind
    assert (raised.value.status, raised.value.message) == (status, "params.n: too big")
    assert raised.value.field == "params.n"
    assert str(raised.value) == f"{status}: params.n: too big"


def test_a_missing_job_is_not_found_without_a_field() -> None:
    api = FakeApi().on(
        "GET", f"/api/jobs/{JOB_ID}", answer(404, {"detail": f"no job with id {JOB_ID}"})
    )
    with api.client() as client, pytest.raises(NotFound) as raised:
        client.job(JOB_ID).status()
    assert raised.value.message == f"no job with id {JOB_ID}" and raised.value.field is None


def test_retry_after_in_seconds() -> None:
    refused = answer(429, {"detail": "too many active jobs"}, {"Retry-After": "7"})
    api = FakeApi().on("POST", "/api/jobs", refused)
    with api.client() as client, pytest.raises(RateLimited) as raised:
        client.submit("sum_range", {"n": 10})
    assert raised.value.retry_after_s == 7.0


def test_retry_after_as_a_date() -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    api = FakeApi().on("POST", "/api/jobs", answer(503, {"detail": "down"}, {"Retry-After": when}))
    with api.client() as client, pytest.raises(ServiceUnavailable) as raised:
        client.submit("sum_range", {"n": 10})
    assert raised.value.retry_after_s is not None
    assert 100 < raised.value.retry_after_s <= 120


def test_fastapi_validation_list_becomes_a_message_and_the_first_field() -> None:
    body = {
        "detail": [
            {"loc": ["body", "params", "n"], "msg": "Input should be a valid integer"},
            {"loc": ["query", "limit"], "msg": "Input should be greater than 0"},
        ]
    }
    api = FakeApi().on("POST", "/api/jobs", answer(422, body))
    with api.client() as client, pytest.raises(Unprocessable) as raised:
        client.submit("sum_range", {"n": "x"})
    assert raised.value.message == (
        "params.n: Input should be a valid integer; query.limit: Input should be greater than 0"
    )
    assert raised.value.field == "params.n"


def test_a_proxys_page_gives_its_text() -> None:
    page = b"<html><body>502 Bad Gateway</body></html>"
    api = FakeApi().on("GET", "/api/kinds", answer(502, page))
    with api.client() as client, pytest.raises(ServerError) as raised:
        client.kinds()
    assert raised.value.status == 502 and "502 Bad Gateway" in raised.value.message
    assert raised.value.field is None


def test_no_answer_is_unreachable_with_no_status() -> None:
    api = FakeApi().on("GET", "/api/kinds", unreachable)
    with api.client() as client, pytest.raises(ApiUnreachable) as raised:
        client.kinds()
    assert raised.value.status is None
    assert str(raised.value).startswith("cannot reach the API at http://api.test")
    assert "Connection refused" in str(raised.value)
