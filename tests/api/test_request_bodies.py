"""Request bodies the API refuses before any route reads them (issue 29, items 4 and 9):
too deep, a key given twice, an integer too long to read, too large while streaming; and
numbers that must be numbers, on chunkwise's routes and the seeds' alike."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from httpx import Response

from chunkwise.api import create_app
from chunkwise.config import Settings
from tests.api.in_process import Api, ServeInProcess, assert_error

NESTED = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
"""60 KB of 10,000 nested objects: a RecursionError (500) wherever Python parses it."""
JSON = {"content-type": "application/json"}
SOME_ID = "00000000-0000-4000-8000-000000000001"
SUM = {"kind": "sum_range", "params": {"n": 100}, "chunks": 2}


READ_BY_HAND = {("POST", "/submit-task"), ("POST", "/api/auth/session")}
"""Operations that read a body the OpenAPI document does not describe."""


def every_operation() -> Iterator[tuple[str, str, bool]]:
    """(method, path, reads a body) of every operation the API documents, path parameters
    filled in."""
    app = create_app(Settings(broker_url="memory://", database_url="sqlite://"))
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            reads = "requestBody" in operation or (method.upper(), path) in READ_BY_HAND
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    path = path.replace("{" + parameter["name"] + "}", SOME_ID)
            yield method.upper(), path, reads


OPERATIONS = sorted(set(every_operation()))


def assert_refused(response: Response, status: int, message: str) -> None:
    """Refused with `message`, in chunkwise's shape or, on a seed's path, the seed's."""
    assert response.status_code == status, response.text
    body = response.json()
    assert message in (body.get("detail") or body.get("message")), body


@pytest.fixture
def accounts(serve: ServeInProcess) -> Iterator[Api]:
    with serve(auth_enabled=True) as api:
        yield api


@pytest.mark.parametrize(("method", "path", "reads"), OPERATIONS)
def test_a_deeply_nested_body_is_400_where_a_body_is_read_and_never_a_500(
    api: Api, method: str, path: str, reads: bool
) -> None:
    response = api.http.request(method, path, content=NESTED, headers=JSON)
    assert response.status_code < 500, response.text
    if reads:
        assert_refused(response, 400, "body: JSON nested 10000 levels deep; at most 32")


def test_chunkwise_words_a_refusal_with_its_field(api: Api) -> None:
    response = api.http.post("/api/jobs", content=NESTED, headers=JSON)
    assert_error(response, 400, "body: JSON nested 10000 levels deep", "body")


def test_a_seed_surface_words_a_refusal_in_its_own_shape(api: Api) -> None:
    seed_002 = api.http.post("/tasks", content=NESTED, headers=JSON).json()
    assert seed_002["code"] == "INVALID_TASK" and "nested" in seed_002["message"]
    seed_003 = api.http.post("/submit-task", content=NESTED, headers=JSON).json()
    assert seed_003["status"] == "error" and "nested" in seed_003["message"]


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/session", "/api/auth/register"])
def test_anonymous_routes_refuse_a_nested_body_with_accounts_on(accounts: Api, path: str) -> None:
    for body in (NESTED, b"[" * 10_000 + b"]" * 10_000):
        response = accounts.http.post(path, content=body, headers=JSON)
        assert_refused(response, 400, "body: JSON nested 10000 levels deep")


@pytest.mark.parametrize(
    "path", ["/api/jobs", "/api/auth/login", "/submit-task", "/tasks", "/api/count-primes"]
)
def test_the_deepest_nesting_the_setting_allows_is_parsed_without_a_500(
    serve: ServeInProcess, path: str
) -> None:
    depth = 256  # the largest CHUNKWISE_MAX_JSON_DEPTH
    body = b'{"a":' * depth + b"1" + b"}" * depth
    with serve(max_json_depth=depth) as api:
        response = api.http.post(path, content=body, headers=JSON)
    assert 400 <= response.status_code < 500, response.text


def test_the_depth_is_a_setting(serve: ServeInProcess) -> None:
    body = {"kind": "sum_range", "params": {"n": 100, "x": {"y": 1}}}  # three levels
    with serve(max_json_depth=2) as api:
        response = api.http.post("/api/jobs", json=body)
    assert_error(response, 400, "body: JSON nested 3 levels deep; at most 2", "body")


def test_brackets_inside_strings_do_not_count(api: Api) -> None:
    body = {**SUM, "kind": '\\"' + "{[" * 20 + '\\"'}  # 40 levels if they counted
    response = api.http.post("/api/jobs", json=body)
    assert response.status_code == 400  # the kind is unknown; the depth is 2
    assert response.json()["field"] == "kind"


@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        ("/api/jobs", '{"kind": "sum_range", "kind": "prime_count", "params": {"n": 10}}', "kind"),
        ("/api/jobs", '{"kind": "sum_range", "params": {"n": 10, "n": 20}}', "n"),
        ("/api/auth/login", '{"email": "a@b.co", "email": "c@d.co", "password": "x"}', "email"),
        ("/submit-task", '{"task_type": "prime", "task_type": "compute"}', "task_type"),
        ("/tasks", '{"data": {"amount": 1, "rate": 0.1, "rate": 0.2}}', "rate"),
        ("/api/count-primes", '{"n": 100000, "chunks": 2, "chunks": 4}', "chunks"),
        ("/jobs", '{"n": 100, "n": 200}', "n"),
    ],
)
def test_a_key_given_twice_is_400_naming_it(api: Api, path: str, body: str, key: str) -> None:
    response = api.http.post(path, content=body, headers=JSON)
    assert_refused(response, 400, f'body: the key "{key}" appears twice in one object')
    assert api.job_count() == 0


@pytest.mark.parametrize("path", ["/api/jobs", "/jobs", "/api/count-primes", "/submit-task"])
def test_an_integer_of_4301_digits_is_400_saying_it_is_too_long(api: Api, path: str) -> None:
    body = '{"kind": "sum_range", "n": ' + "9" * 4301 + "}"
    response = api.http.post(path, content=body, headers=JSON)
    assert_refused(response, 400, "body: a number has 4,301 digits, too long to read")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(api: Api, constant: str) -> None:
    body = '{"data": {"amount": ' + constant + ', "rate": 0.05}}'
    response = api.http.post("/tasks", content=body, headers=JSON)
    assert_refused(response, 400, f"body: {constant} is not a JSON number")


def streamed(size: int) -> Iterator[bytes]:
    """A body sent in pieces with no Content-Length (chunked transfer encoding)."""
    yield b'{"kind": "sum_range", "params": {"n": 100}, "pad": "'
    for _ in range(size // 1024):
        yield b"x" * 1024
    yield b'"}'


@pytest.mark.parametrize("path", ["/api/jobs", "/api/auth/login", "/submit-task", "/tasks"])
def test_a_streamed_body_over_the_limit_is_413_naming_the_limit(api: Api, path: str) -> None:
    response = api.http.post(path, content=streamed(100 * 1024), headers=JSON)
    assert "content-length" not in response.request.headers
    assert_refused(response, 413, "larger than 65536 bytes (CHUNKWISE_MAX_BODY_BYTES)")


def test_a_declared_body_over_the_limit_is_413_too(api: Api) -> None:
    body = b'{"pad": "' + b"x" * 70_000 + b'"}'
    response = api.http.post("/api/jobs", content=body, headers=JSON)
    assert_error(response, 413, "request body is larger than 65536 bytes", "body")


def test_a_streamed_body_within_the_limit_is_read_whole(api: Api) -> None:
    def pieces() -> Iterator[bytes]:
        yield b'{"kind": "sum_range", '
        yield b'"params": {"n": 100}, "chunks": 2}'

    response = api.http.post("/api/jobs", content=pieces(), headers=JSON)
    assert response.status_code == 202, response.text


def test_the_login_form_is_still_read_as_a_form(accounts: Api) -> None:
    form = {"username": "ada@example.com", "password": "correct horse battery staple"}
    account = {"email": form["username"], "password": form["password"]}
    assert accounts.http.post("/api/auth/register", json=account).status_code == 201
    response = accounts.http.post("/api/auth/login", data=form)
    assert response.status_code == 200, response.text


# Item 9: strict numbers.


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "sum_range", "params": {"n": True}}, "params.n"),
        ({"kind": "sum_range", "params": {"n": "100"}}, "params.n"),
        ({"kind": "sum_range", "params": {"n": 100.0}}, "params.n"),
        ({"kind": "sum_range", "params": {"n": 100, "a": False}}, "params.a"),
        ({"kind": "sum_range", "params": {"n": 100}, "chunks": True}, "chunks"),
        ({"kind": "sum_range", "params": {"n": 100}, "chunks": "4"}, "chunks"),
        ({"kind": "prime_count", "params": {"n": "100000"}}, "params.n"),
        ({"kind": "prime_list", "params": {"end": True}}, "params.end"),
        ({"kind": "monte_carlo", "params": {"amount": "1000", "rate": 0.05}}, "params.amount"),
        ({"kind": "monte_carlo", "params": {"amount": 1000, "rate": True}}, "params.rate"),
        ({"kind": "monte_carlo", "params": {"amount": 1, "rate": 0, "years": "5"}}, "params.years"),
    ],
)
def test_numbers_must_be_json_numbers(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.http.post("/api/jobs", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert api.job_count() == 0


def test_a_float_parameter_takes_an_integer(api: Api) -> None:
    body = {"kind": "monte_carlo", "params": {"amount": 10_000, "rate": 0, "paths": 100}}
    assert api.http.post("/api/jobs", json=body).status_code == 202


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/count-primes", {"n": 100_000, "chunks": True}, "chunks"),
        ("/api/count-primes", {"n": "100000"}, "n"),
        ("/jobs", {"n": True}, "n"),
        ("/jobs", {"n": "100", "chunks": 2}, "n"),
        ("/jobs/demo", {"n": 100, "chunks": "2"}, "chunks"),
        ("/v1/jobs", {"n": 100.0}, "n"),
    ],
)
def test_the_seed_surfaces_take_numbers_as_numbers(
    api: Api, path: str, body: dict[str, Any], field: str
) -> None:
    response = api.http.post(path, json=body)
    assert response.status_code == 400, response.text
    assert re.search(rf"\b{field}\b", response.text), response.text
    assert api.job_count() == 0


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/tasks", {"amount": "10000", "rate": 0.05}),
        ("/tasks", {"amount": 10000, "rate": 0.05, "paths": True}),
        ("/submit-task", None),
    ],
)
def test_the_seed_task_surfaces_take_numbers_as_numbers(
    api: Api, path: str, data: dict[str, Any] | None
) -> None:
    body = {"data": data} if data else {"task_type": "prime", "task_data": {"limit": "100"}}
    response = api.http.post(path, json=body)
    assert response.status_code == 400, response.text
    assert api.job_count() == 0


def test_what_the_seeds_clients_send_is_still_accepted(api: Api) -> None:
    """Each seed's documented request, as its README shows it; seed 004's numbers come in
    the query string, which is text by nature and stays so."""
    sent = [
        api.http.post("/api/count-primes", json={"n": 200000, "chunks": 16}),
        api.http.post("/jobs", json={"n": 10000, "chunks": 8}),
        api.http.post("/jobs/demo", json={"n": 1000, "chunks": 4}),
        api.http.post("/tasks", json={"data": {"amount": 10000, "rate": 0.05}}),
        api.http.post("/submit-task", json={"task_type": "prime", "task_data": {"limit": 100}}),
        api.http.post("/primes?start_num=4&end_num=11"),
    ]
    assert [r.status_code for r in sent] == [202, 202, 202, 201, 201, 200], [r.text for r in sent]
