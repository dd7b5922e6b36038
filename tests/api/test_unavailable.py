"""With the broker down, the API says so with 503s, never a 500, and keeps no half job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from chunkwise.config import Settings
from chunkwise.launcher import free_port
from chunkwise.schemas import Health
from chunkwise.store import Store, jobs
from tests.api.conftest import api_process
from tests.store.conftest import POSTGRES_URL
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Nothing listens on this port: the broker is down.
    return Settings(
        data_dir=tmp_path,
        broker_url=f"redis://127.0.0.1:{free_port()}/0",
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        api_port=free_port(),
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[httpx.Client]:
    """The API alone, in its own process, with no broker behind it."""
    with api_process(settings) as client:
        yield client


def test_with_the_broker_down_the_api_is_live_but_not_ready(client: httpx.Client) -> None:
    # A liveness probe that failed here would get every API restarted by a broker outage.
    assert client.get("/live").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json() == {"ready": False, "missing": ["broker"], "workers": 0}


def test_health_is_503_naming_the_broker(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 503
    expected = Health(
        status="unavailable", workers=0, processes=0, broker="unreachable", database="ok"
    )
    assert response.json() == expected.model_dump()


def test_a_job_submitted_while_the_broker_is_down_is_503_and_not_kept(
    client: httpx.Client, settings: Settings
) -> None:
    response = client.post(
        "/api/jobs", json={"kind": "prime_count", "params": {"n": 200000}, "chunks": 16}
    )
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "broker" in detail
    assert "127.0.0.1" not in detail and "Error" not in detail  # no driver text
    with Store(settings.resolved_database_url).reader() as session:
        assert jobs.count_jobs(session) == 0


def test_validation_still_answers_400(client: httpx.Client) -> None:
    response = client.post("/api/jobs", json={"kind": "prime_count", "params": {"n": 1}})
    assert response.status_code == 400


@pytest.mark.skipif(not POSTGRES_URL, reason="CHUNKWISE_TEST_POSTGRES_URL not set")
def test_a_store_outage_is_503_naming_the_store_not_the_driver(tmp_path: Path) -> None:
    target = make_url(Settings(database_url=POSTGRES_URL).resolved_database_url)
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        proxied = target.set(host="127.0.0.1", port=proxy.port)
        settings = Settings(
            data_dir=tmp_path,
            broker_url=f"redis://127.0.0.1:{free_port()}/0",
            database_url=proxied.render_as_string(hide_password=False),
            api_port=free_port(),
        )
        with api_process(settings) as client:
            proxy.cut()
            response = client.get("/api/jobs")
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert detail.startswith("the job store does not answer")
    assert str(proxy.port) not in detail and "postgres" not in detail.lower()
