"""`chunkwise flower` serves Flower on a loopback port behind basic auth, and refuses to
start without credentials."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.launcher import chunkwise_argv, free_port
from chunkwise.supervisor import ProcessGroup
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def environment(tmp_path: Path, broker_url: str, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHUNKWISE_")}
    return {
        **base,
        "CHUNKWISE_DATA_DIR": str(tmp_path),
        "CHUNKWISE_BROKER_URL": broker_url,
        **extra,
    }


def test_flower_needs_credentials_and_checks_them(tmp_path: Path) -> None:
    with EmbeddedBroker(tmp_path / "broker", appendonly=False) as broker:
        refused = subprocess.run(
            chunkwise_argv("flower", "--port", str(free_port())),
            env=environment(tmp_path, broker.url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 2
        assert "CHUNKWISE_FLOWER_BASIC_AUTH" in refused.stdout + refused.stderr

        port = free_port()
        env = environment(tmp_path, broker.url, CHUNKWISE_FLOWER_BASIC_AUTH="admin:s3cret")
        with ProcessGroup() as group:
            group.spawn("flower", chunkwise_argv("flower", "--port", str(port)), env)
            url = f"http://127.0.0.1:{port}/"

            def answers() -> httpx.Response | None:
                try:
                    return httpx.get(url, timeout=2)
                except httpx.HTTPError:
                    return None

            anonymous = wait_for(answers, timeout_s=60, what="Flower to answer")
            signed = httpx.get(url, auth=("admin", "s3cret"), timeout=10)
            wrong = httpx.get(url, auth=("admin", "wrong"), timeout=10)
    assert anonymous.status_code == 401 and wrong.status_code == 401
    assert signed.status_code == 200 and "Flower" in signed.text
