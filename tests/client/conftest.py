"""The client's unit tests talk to a fake API (httpx.MockTransport): no process, no
network. Each test gets settings of its own (no CHUNKWISE_API_URL or token of the
machine's, an empty config dir) and reconnection pauses short enough to test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chunkwise.client import reconnect
from chunkwise.config import get_settings

FAST_PAUSE_S = 0.01


@pytest.fixture(autouse=True)
def own_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Settings read from this test's environment; the config dir (where the login token
    is kept) under tmp_path, which it yields."""
    for name in (
        "CHUNKWISE_API_URL",
        "CHUNKWISE_TOKEN",
        "CHUNKWISE_API_HOST",
        "CHUNKWISE_API_PORT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    get_settings.cache_clear()
    yield tmp_path / "config"
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def fast_reconnection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconnect, "RECONNECT_PAUSE_S", FAST_PAUSE_S)
