"""Two API processes sharing the broker's Redis for their rate-limit counts: the demo's
limit holds across both."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import httpx
import pytest

from chunkwise.launcher import api_answers, api_argv, free_port
from tests.live import LiveSystem
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

SMALL = {"kind": "sum_range", "params": {"n": 100}, "chunks": 1}


@pytest.fixture
def two_apis(live: LiveSystem) -> Iterator[list[str]]:
    """Two more `chunkwise api` processes counting in the broker's Redis."""
    if live.on_amqp:
        pytest.skip("counts in the broker's Redis; with RabbitMQ a redis:// URL is the way")
    names, urls = ["api-limits-1", "api-limits-2"], []
    env = {
        **live.env,
        "CHUNKWISE_RATE_LIMIT_STORAGE": "broker",
        "CHUNKWISE_DEMO_RATE_LIMIT": "5/minute",
    }
    try:
        for name in names:
            settings = live.settings.model_copy(update={"api_port": free_port()})
            live.group.spawn(name, api_argv(settings, "warning"), env)
            urls.append(f"http://127.0.0.1:{settings.api_port}")
        for url in urls:
            wait_for(lambda url=url: api_answers(url), timeout_s=60, what=url)  # type: ignore[misc]
        yield urls
    finally:
        for name in names:
            live.group.send_signal(name, signal.SIGTERM)
        wait_for(
            lambda: all(live.group.returncode(name) is not None for name in names),
            timeout_s=30,
            what="the two APIs to stop",
        )


def test_the_demo_limit_holds_across_two_api_processes(two_apis: list[str]) -> None:
    codes = [
        httpx.post(f"{two_apis[turn % 2]}/api/demo/jobs", json=SMALL).status_code
        for turn in range(6)
    ]
    assert codes == [202] * 5 + [429]
