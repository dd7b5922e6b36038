"""The reconnection policy of a live stream: what is retried, how long it pauses, and
how a deadline bounds every wait."""

from __future__ import annotations

import time

import pytest

from chunkwise.client import ApiUnreachable, NotFound, ServiceUnavailable
from chunkwise.client.defaults import STREAM_READ_TIMEOUT_S
from chunkwise.client.reconnect import Reconnection
from tests.client.conftest import FAST_PAUSE_S


def test_without_a_deadline_the_timeouts_are_the_defaults() -> None:
    timeout = Reconnection().timeout(10.0)
    assert (timeout.connect, timeout.read) == (10.0, STREAM_READ_TIMEOUT_S)


def test_a_deadline_caps_every_timeout() -> None:
    timeout = Reconnection(deadline=time.monotonic() + 0.5).timeout(10.0)
    assert timeout.connect is not None and timeout.read is not None
    assert 0 < timeout.connect <= 0.5 and 0 < timeout.read <= 0.5


def test_a_missing_job_is_not_retried() -> None:
    gone = NotFound(404, "no job")
    with pytest.raises(NotFound):
        Reconnection().pause_s(gone, asked_s=None)


def test_the_pause_is_the_streams_then_retry_after_when_longer() -> None:
    reconnection = Reconnection()
    assert reconnection.pause_s(ApiUnreachable(None, "reset"), asked_s=0.5) == 0.5
    assert reconnection.pause_s(ApiUnreachable(None, "reset"), asked_s=None) == FAST_PAUSE_S
    busy = ServiceUnavailable(503, "store unreachable", retry_after_s=3.0)
    assert reconnection.pause_s(busy, asked_s=0.5) == 3.0


def test_the_pause_ends_at_the_deadline_and_then_times_out() -> None:
    reconnection = Reconnection(deadline=time.monotonic() + 0.2)
    assert reconnection.pause_s(ApiUnreachable(None, "reset"), asked_s=30.0) <= 0.2
    reconnection.deadline = time.monotonic()
    with pytest.raises(TimeoutError):
        reconnection.pause_s(ApiUnreachable(None, "reset"), asked_s=None)
