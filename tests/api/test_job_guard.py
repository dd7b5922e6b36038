"""Every route that makes a job passes the same guards, because every one makes it through
`make_job` (api/routes/jobs.py): a user past the job rate limit on /api/jobs gets 429 with
Retry-After on every other route that makes jobs, the seed surfaces' included, and no job
is made; the demo routes share the demo's per-IP limit the same way.

The routes are read from the app, so a new route that accepts a body must be named here,
as one that makes jobs (and is then held to the limit over HTTP) or one that does not."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from chunkwise.api import create_app
from chunkwise.config import Settings
from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.store import Store, jobs
from tests.api.conftest import accounts_on, api_process

API = Path(__file__).parents[2] / "src" / "chunkwise" / "api"
PASSWORD = "correct horse battery staple"
JOB_LIMIT = 3
_ranges = itertools.count(1)


@dataclass(frozen=True)
class Sample:
    """A request that makes one small job on a route."""

    json: Any = None
    query: dict[str, Any] = field(default_factory=dict)

    def params(self, path: str) -> dict[str, Any]:
        if path == "/primes":  # the same range again answers the same job: a new one each time
            start = next(_ranges) * 1000
            return {"start_num": start, "end_num": start + 100}
        return self.query


SUM = {"n": 100, "chunks": 1}
PROJECTION = {"data": {"amount": 1000, "rate": 0.05, "paths": 1000}, "priority": "low"}
MAKE_JOBS: dict[str, Sample] = {
    "/api/jobs": Sample({"kind": "sum_range", "params": {"n": 100}, "chunks": 1}),
    "/api/count-primes": Sample({"n": 10_000, "chunks": 1}),
    "/jobs": Sample(SUM),
    "/v1/jobs": Sample(SUM),
    "/tasks": Sample(PROJECTION),
    "/api/v1/tasks": Sample(PROJECTION),
    "/submit-task": Sample({"task_type": "compute", "task_data": {"limit": 1000}}),
    "/primes": Sample(),
}
"""Every route that makes a job for a caller, with a request that makes one."""
MAKE_DEMO_JOBS: dict[str, Sample] = {
    "/api/demo/jobs": Sample({"kind": "sum_range", "params": {"n": 10}, "chunks": 1}),
    "/jobs/demo": Sample({"n": 10, "chunks": 1}),
    "/v1/jobs/demo": Sample({"n": 10, "chunks": 1}),
}
"""Every route that makes a demo job, for anyone."""
MAKE_NO_JOBS = {
    "/api/auth/register",
    "/api/auth/login",
    "/api/auth/session",
    "/api/auth/password",
    "/api/auth/tokens",
    "/api/jobs/{job_id}/cancel",
}
"""The other routes that take a POST, PUT or PATCH: none of them makes a job."""


def test_every_route_that_takes_a_body_is_named_here(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, broker_url="memory://"))
    writing = {
        path
        for path, operations in app.openapi()["paths"].items()
        if set(operations) & {"post", "put", "patch"}
    }
    assert writing == set(MAKE_JOBS) | set(MAKE_DEMO_JOBS) | MAKE_NO_JOBS


def test_only_the_guard_reaches_job_creation() -> None:
    """No module of the API but routes/jobs.py names `submit_job`, and there only
    `make_job`'s helper calls it: a route cannot make a job past the guards."""
    naming = [
        path.relative_to(API).as_posix()
        for path in API.rglob("*.py")
        if re.search(r"\bsubmit_job\b", path.read_text())
    ]
    assert naming == ["routes/jobs.py"]
    text = (API / "routes" / "jobs.py").read_text()
    assert len(re.findall(r"\bsubmit_job\(", text)) == 1
    assert len(re.findall(r"\b_submit\(", text)) == 2  # its definition and make_job's call


@dataclass
class LiveApi:
    http: httpx.Client
    store: Store


@pytest.fixture(scope="module")
def live_api(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """`chunkwise api` in a process of its own, accounts on, JOB_LIMIT jobs a minute per
    user; 127.0.0.1 is a trusted proxy, so each demo test names a client IP of its own."""
    settings, env = accounts_on(
        broker,
        tmp_path_factory.mktemp("guard"),
        CHUNKWISE_JOB_RATE_LIMIT=f"{JOB_LIMIT}/minute",
        CHUNKWISE_DEMO_RATE_LIMIT="2/minute",
        CHUNKWISE_TRUSTED_PROXIES="127.0.0.1",
    )
    store = Store(settings.resolved_database_url)
    try:
        with api_process(settings, env) as http:
            yield LiveApi(http, store)
    finally:
        store.dispose()


def signed_up(api: LiveApi) -> dict[str, str]:
    """The Authorization header of a new account's access token."""
    account = {"email": f"{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD}
    assert api.http.post("/api/auth/register", json=account).status_code == 201
    answer = api.http.post("/api/auth/login", json=account)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def send(api: LiveApi, path: str, sample: Sample, headers: dict[str, str]) -> httpx.Response:
    return api.http.post(path, json=sample.json, params=sample.params(path), headers=headers)


def job_count(api: LiveApi) -> int:
    with api.store.reader() as session:
        return jobs.count_jobs(session)


def assert_refused_making_nothing(
    api: LiveApi, path: str, sample: Sample, headers: dict[str, str]
) -> None:
    before = job_count(api)
    refused = send(api, path, sample, headers)
    assert refused.status_code == 429, f"{path}: {refused.status_code} {refused.text}"
    assert int(refused.headers["retry-after"]) >= 1, path
    assert job_count(api) == before, f"{path} made a job past the limit"


@pytest.mark.integration
@pytest.mark.parametrize("path", list(MAKE_JOBS))
def test_past_the_users_job_limit_every_route_that_makes_jobs_refuses(
    live_api: LiveApi, path: str
) -> None:
    sample, user = MAKE_JOBS[path], signed_up(live_api)
    made = send(live_api, path, sample, user)  # the route makes a job, and counts it
    assert made.is_success, f"{path}: {made.status_code} {made.text}"
    job_limit = MAKE_JOBS["/api/jobs"]
    for _ in range(JOB_LIMIT - 1):
        assert send(live_api, "/api/jobs", job_limit, user).status_code == 202
    assert send(live_api, "/api/jobs", job_limit, user).status_code == 429
    assert_refused_making_nothing(live_api, path, sample, user)
    assert send(live_api, path, sample, signed_up(live_api)).is_success  # others still may


@pytest.mark.integration
@pytest.mark.parametrize("path", list(MAKE_DEMO_JOBS))
def test_past_the_demo_limit_every_route_that_makes_demo_jobs_refuses(
    live_api: LiveApi, path: str
) -> None:
    sample = MAKE_DEMO_JOBS[path]
    client = {"X-Forwarded-For": f"198.51.100.{list(MAKE_DEMO_JOBS).index(path) + 1}"}
    made = send(live_api, path, sample, client)
    assert made.status_code == 202, f"{path}: {made.status_code} {made.text}"
    demo = MAKE_DEMO_JOBS["/api/demo/jobs"]
    assert send(live_api, "/api/demo/jobs", demo, client).status_code == 202
    assert send(live_api, "/api/demo/jobs", demo, client).status_code == 429
    assert_refused_making_nothing(live_api, path, sample, client)


@pytest.mark.integration
@pytest.mark.parametrize("path", ["/tasks", "/api/v1/tasks", "/submit-task"])
def test_the_seed_routes_take_an_idempotency_key_too(live_api: LiveApi, path: str) -> None:
    sample, user = MAKE_JOBS[path], signed_up(live_api)
    key = {**user, "Idempotency-Key": f"retry-{uuid.uuid4().hex}"}
    params = sample.params(path)
    first = live_api.http.post(path, json=sample.json, params=params, headers=key)
    before = job_count(live_api)
    again = live_api.http.post(path, json=sample.json, params=params, headers=key)
    assert first.is_success and again.status_code == first.status_code, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert job_count(live_api) == before
