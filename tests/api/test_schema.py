"""The API keeps its own OpenAPI promises: schemathesis sends generated requests to every
operation of a live system, the seeds' surfaces included, once with accounts off and once
with accounts on (signed in), and checks each answer against /openapi.json. No answer is a
500. Every operation is also sent a body of 10,000 nested objects, which once made three
routes recurse into a 500 (issue 29), and a streamed body past the size limit.

About two minutes on two cores: two live systems, each sent every operation's examples."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from chunkwise.api import create_app
from chunkwise.config import Settings
from tests.live import LiveSystem, live_system

EXAMPLES_PER_OPERATION = 15
pytestmark = pytest.mark.integration

SMALL_JOBS_ENV = {"CHUNKWISE_PRIME_COUNT_MAX_N": str(10**7)}
"""Valid generated jobs must stay small: a prime_count up to 10^13 would run for an hour."""
PASSWORD = "correct horse battery staple"
NESTED = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
"""60 KB of 10,000 nested objects."""
SOME_ID = "00000000-0000-4000-8000-000000000001"
READ_BY_HAND = {"POST /submit-task", "POST /api/auth/session"}
"""Operations that read a body the OpenAPI document does not describe."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@dataclass
class Target:
    """A live system, and how the generated requests reach it."""

    system: LiveSystem
    headers: dict[str, str] = field(default_factory=dict)
    """The signed-in account's token when accounts are on."""
    cases: int = 0
    nested: int = 0

    @property
    def base_url(self) -> str:
        return self.system.settings.resolved_api_url


@pytest.fixture(scope="module", params=["accounts off", "accounts on"])
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    accounts = request.param == "accounts on"
    env = {**SMALL_JOBS_ENV, "CHUNKWISE_AUTH_ENABLED": "true" if accounts else "false"}
    root = Path(tmp_path_factory.mktemp("schema"))
    with live_system(root, workers=1, extra_env=env) as system:
        target = Target(system, signed_in(system) if accounts else {})
        yield target
    say(
        request.config,
        f"schemathesis, {request.param}: {target.cases} generated cases and "
        f"{target.nested} deeply nested bodies sent",
    )


def say(config: pytest.Config, line: str) -> None:
    """A line in pytest's output, outside the capture (a fixture's teardown is captured)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


def signed_in(system: LiveSystem) -> dict[str, str]:
    """An API token's header: unlike an access token, signing out (a generated DELETE
    /api/auth/session) does not end it, so every case runs signed in."""
    account = {"email": "schema@example.com", "password": PASSWORD}
    assert system.http.post("/api/auth/register", json=account).status_code == 201
    login = system.http.post("/api/auth/login", json=account)
    assert login.status_code == 200, login.text
    access = {"Authorization": f"Bearer {login.json()['access_token']}"}
    made = system.http.post("/api/auth/tokens", json={"name": "schemathesis"}, headers=access)
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['token']}"}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document the app builds; `test_the_live_document_is_this_one` ties it to
    /openapi.json. (Loading it from the live system through a fixture would need
    schemathesis' lazy loader, which does not run on pytest 9.)"""
    app = create_app(Settings(broker_url="redis://127.0.0.1:9/0", database_url="sqlite://"))
    return app.openapi()


schema = schemathesis.openapi.from_dict(openapi_document())


def test_the_live_document_is_this_one(api: Target) -> None:
    assert api.system.http.get("/openapi.json").json() == openapi_document()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(api: Target, case: Case[Any]) -> None:
    api.cases += 1
    case.call_and_validate(base_url=api.base_url, headers=api.headers, checks=CHECKS)


def test_a_deeply_nested_body_is_never_a_500_and_is_400_where_a_body_is_read(
    api: Target,
) -> None:
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        case = operation.Case(path_parameters={p.name: SOME_ID for p in operation.path_parameters})
        headers = {**api.headers, "Content-Type": "application/json"}
        response = case.call(base_url=api.base_url, headers=headers, data=NESTED)
        api.nested += 1
        case.validate_response(response, checks=[not_a_server_error])
        if "requestBody" in operation.definition.raw or operation.label in READ_BY_HAND:
            assert response.status_code == 400, (operation.label, response.text)
            assert "nested 10000 levels deep" in response.text, operation.label


def test_a_streamed_body_past_the_limit_is_413_naming_the_limit(api: Target) -> None:
    def pieces() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"kind": "sum_range", "params": {"n": 100}, "pad": "'
        yield from (b"x" * 1024 for _ in range(100))
        yield b'"}'

    response = api.system.http.post(
        "/api/jobs", content=pieces(), headers={**api.headers, "Content-Type": "application/json"}
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413, response.text
    assert "larger than 65536 bytes (CHUNKWISE_MAX_BODY_BYTES)" in response.json()["detail"]
