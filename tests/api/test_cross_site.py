"""Other sites cannot submit jobs through a visitor's browser, nor reach the API under a
host name of their own (DNS rebinding); curl and the API's own pages still can."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chunkwise.config import Settings
from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.launcher import free_port
from chunkwise.store import jobs
from tests.api.conftest import ServeApi, ServedApi, api_process

pytestmark = pytest.mark.integration

JOB = json.dumps({"kind": "sum_range", "params": {"n": 100}, "chunks": 2})
FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}
EVIL = "http://evil.example"
SENDERS: list[tuple[dict[str, str], bool]] = [
    # Another site's page, through a visitor's browser: refused.
    ({**FORM, "Origin": EVIL}, False),
    ({**FORM, "Sec-Fetch-Site": "cross-site"}, False),
    ({**FORM, "Sec-Fetch-Site": "same-site"}, False),
    ({**FORM, "Origin": "null"}, False),
    ({"content-type": "text/plain", "Origin": EVIL}, False),
    ({**JSON, "Origin": EVIL}, False),
    # curl -d (as the README shows), the API's own pages, the CORS origins: accepted.
    (FORM, True),
    ({**FORM, "Sec-Fetch-Site": "none"}, True),
    ({**FORM, "Sec-Fetch-Site": "same-origin", "Origin": "SAME"}, True),
    ({**FORM, "Origin": "http://localhost:3000"}, True),
    ({**JSON, "Origin": "http://localhost:3000"}, True),
    ({**JSON, "Origin": "SAME"}, True),
]
"""Headers of a job submission, and whether it is accepted; SAME stands for the API's own
origin."""


@pytest.fixture
def api(serve_api: ServeApi) -> Iterator[ServedApi]:
    with serve_api(cors_origins=["http://localhost:3000"]) as api:
        yield api


def job_count(api: ServedApi) -> int:
    with api.store.reader() as session:
        return jobs.count_jobs(session)


@pytest.mark.parametrize("headers", [headers for headers, accepted in SENDERS if not accepted])
def test_a_job_sent_by_another_site_is_refused_with_403(
    api: ServedApi, headers: dict[str, str]
) -> None:
    response = api.http.post("/api/jobs", content=JOB, headers=headers)
    assert response.status_code == 403
    assert response.json()["field"] is None
    assert "cross-site request refused" in response.json()["detail"]
    assert job_count(api) == 0


@pytest.mark.parametrize("method", ["DELETE", "POST"])
def test_every_unsafe_method_checks_the_origin(api: ServedApi, method: str) -> None:
    path = "/api/jobs/00000000-0000-0000-0000-000000000000"
    path += "/cancel" if method == "POST" else ""
    response = api.http.request(method, path, headers={"Origin": EVIL})
    assert response.status_code == 403


@pytest.mark.parametrize("headers", [headers for headers, accepted in SENDERS if accepted])
def test_curl_the_own_origin_and_cors_origins_still_submit(
    api: ServedApi, headers: dict[str, str]
) -> None:
    own = f"http://127.0.0.1:{api.settings.api_port}"
    headers = {name: own if value == "SAME" else value for name, value in headers.items()}
    response = api.http.post("/api/jobs", content=JOB, headers=headers)
    assert response.status_code == 202, response.text
    assert job_count(api) == 1


def test_a_safe_request_from_another_origin_is_served(api: ServedApi) -> None:
    response = api.http.get("/api/jobs", headers={"Origin": EVIL})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_a_foreign_host_name_gets_400(api: ServedApi) -> None:
    response = api.http.post("/api/jobs", content=JOB, headers={**FORM, "Host": "evil.example"})
    assert response.status_code == 400
    assert response.text == "Invalid host header"
    assert api.http.get("/api/kinds", headers={"Host": "evil.example:8000"}).status_code == 400
    assert job_count(api) == 0


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_the_machines_own_names_are_served(api: ServedApi, host: str) -> None:
    port = api.settings.api_port
    response = api.http.get("/api/kinds", headers={"Host": f"{host}:{port}"})
    assert response.status_code == 200


def test_allowed_hosts_name_the_hosts_served(serve_api: ServeApi) -> None:
    with serve_api(allowed_hosts="api.example") as api:
        assert api.http.get("/api/kinds", headers={"Host": "api.example"}).status_code == 200
        assert api.http.get("/api/kinds").status_code == 400  # 127.0.0.1 is not named
    with serve_api(allowed_hosts="*") as api:
        assert api.http.get("/api/kinds", headers={"Host": "evil.example"}).status_code == 200


def test_the_host_chunkwise_api_binds_is_one_it_answers_to(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        broker_url=broker.url,
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        api_host="127.0.0.2",  # any loopback address, not named by default
        api_port=free_port(),
    )
    with api_process(settings) as http:
        assert http.get("/api/kinds").status_code == 200
