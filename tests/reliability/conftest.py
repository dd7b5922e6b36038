from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from chunkwise.config import Settings
from tests.live import BROKERS, LiveSystem, live_system
from tests.reliability.faulty import EXTRA_WORKLOADS

DEFAULT_HEARTBEAT_S = Settings.model_fields["worker_heartbeat_s"].default
DEFAULT_TTL_S = Settings.model_fields["worker_ttl_s"].default

RELIABILITY_ENV = {
    "CHUNKWISE_EXTRA_WORKLOADS": EXTRA_WORKLOADS,
    # The lease as shipped: recovery times measured here are the ones users get.
    "CHUNKWISE_WORKER_HEARTBEAT_S": str(DEFAULT_HEARTBEAT_S),
    "CHUNKWISE_WORKER_TTL_S": str(DEFAULT_TTL_S),
    "CHUNKWISE_CHUNK_RETRY_BACKOFF_S": "0.2",
}

SystemFactory = Callable[..., AbstractContextManager[LiveSystem]]


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "chunk-logs"
    path.mkdir()
    return path


@pytest.fixture(params=BROKERS)
def broker(request: pytest.FixtureRequest) -> str:
    """The broker kind each reliability test runs on: embedded Redis, and RabbitMQ."""
    kind: str = request.param
    return kind


@pytest.fixture
def system(tmp_path: Path, broker: str) -> Iterator[LiveSystem]:
    """A fresh system for each test (these tests kill its parts)."""
    with live_system(
        tmp_path / "system", workers=2, extra_env=RELIABILITY_ENV, broker=broker
    ) as live:
        yield live


@pytest.fixture
def system_with(tmp_path: Path, broker: str) -> SystemFactory:
    """A fresh system with extra settings: `with system_with(CHUNKWISE_X="1") as live:`."""

    def start(**settings: str) -> AbstractContextManager[LiveSystem]:
        return live_system(
            tmp_path / "system",
            workers=2,
            extra_env={**RELIABILITY_ENV, **settings},
            broker=broker,
        )

    return start
