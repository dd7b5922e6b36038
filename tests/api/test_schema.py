"""The API keeps its own OpenAPI promises: schemathesis sends generated requests to every
operation of a live system and checks each answer against /openapi.json."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from chunkwise.api import create_app
from chunkwise.config import Settings
from tests.live import LiveSystem, live_system

EXAMPLES_PER_OPERATION = 30
pytestmark = pytest.mark.integration

SMALL_JOBS_ENV = {"CHUNKWISE_PRIME_COUNT_MAX_N": str(10**7)}
"""Valid generated jobs must stay small: a prime_count up to 10^13 would run for an hour."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    with live_system(
        Path(tmp_path_factory.mktemp("schema")), workers=1, extra_env=SMALL_JOBS_ENV
    ) as system:
        yield system


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document the app builds; `test_the_live_document_is_this_one` ties it to
    /openapi.json. (Loading it from the live system through a fixture would need
    schemathesis' lazy loader, which does not run on pytest 9.)"""
    app = create_app(Settings(broker_url="redis://127.0.0.1:9/0", database_url="sqlite://"))
    return app.openapi()


schema = schemathesis.openapi.from_dict(openapi_document())


def test_the_live_document_is_this_one(api: LiveSystem) -> None:
    assert api.http.get("/openapi.json").json() == openapi_document()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(api: LiveSystem, case: Case[Any]) -> None:
    case.call_and_validate(
        base_url=api.settings.resolved_api_url,
        checks=CHECKS,
    )
