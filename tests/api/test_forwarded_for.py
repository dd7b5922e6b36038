"""`chunkwise api` believes X-Forwarded-For from the configured proxies only: a client on
this machine cannot pick its own address, and so its own rate-limit bucket, by sending
the header (uvicorn, left to itself, believes it from 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chunkwise.config import Settings
from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.launcher import free_port
from tests.api.conftest import api_process

DEMO_JOB = {"kind": "sum_range", "params": {"n": 10}, "chunks": 1}


@pytest.mark.integration
def test_a_local_client_cannot_pick_its_address(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        broker_url=broker.url,
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        api_port=free_port(),
        demo_rate_limit="5/minute",
    )
    with api_process(settings) as http:
        codes = [
            http.post(
                "/api/demo/jobs", json=DEMO_JOB, headers={"X-Forwarded-For": f"9.9.9.{attempt}"}
            ).status_code
            for attempt in range(7)
        ]
    assert codes == [202] * 5 + [429] * 2
