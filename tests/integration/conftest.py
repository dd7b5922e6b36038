from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import BROKERS, LiveSystem, live_system


@pytest.fixture(scope="session", params=BROKERS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveSystem]:
    """One running system (two workers) shared by the integration tests, on each broker."""
    root = tmp_path_factory.mktemp("live")
    with live_system(root, workers=2, broker=request.param) as system:
        yield system
