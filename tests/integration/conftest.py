from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import LiveSystem, live_system


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    """One running system (two workers) shared by the integration tests."""
    with live_system(tmp_path_factory.mktemp("live"), workers=2) as system:
        yield system
