"""When a live stream that dropped is opened again, and when the client stops trying.

A stream drops when its API process restarts, a proxy closes it, or the network fails;
each new stream opens with an event restating the job, so opening it again loses only the
detail of the chunks recorded in between. What is not worth retrying (a 404) is raised at
once; a transient failure is retried until RECONNECT_GIVE_UP_S pass without a stream
opening, or until the caller's deadline.
"""

from __future__ import annotations

import time

import httpx

from chunkwise.client.defaults import (
    RECONNECT_GIVE_UP_S,
    RECONNECT_PAUSE_S,
    STREAM_READ_TIMEOUT_S,
)
from chunkwise.client.errors import ApiError, ApiUnreachable

TRANSIENT_STATUSES = frozenset({502, 503, 504})
"""Answers of an API (or of the proxy before it) that is restarting or briefly cut off."""


class StreamDropped(ApiUnreachable):
    """Raised (and retried) when a stream closed before the job's end event."""


class Reconnection:
    """The retry policy of one follow of a job's events, with an optional deadline
    (a `time.monotonic()` value) after which TimeoutError is raised."""

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        self._failing_since: float | None = None

    def timeout(self, connect_s: float) -> httpx.Timeout:
        """The timeouts of the next stream: `connect_s` to connect, STREAM_READ_TIMEOUT_S
        of silence; neither longer than the time left."""
        return httpx.Timeout(self._capped(connect_s), read=self._capped(STREAM_READ_TIMEOUT_S))

    def check_deadline(self) -> None:
        """TimeoutError once the deadline has passed."""
        left = self._time_left_s()
        if left is not None and left <= 0:
            raise TimeoutError("the job did not end before the timeout")

    def opened(self) -> None:
        """A stream answered: the give-up clock starts again at the next failure."""
        self._failing_since = None

    def pause_s(self, failure: ApiError, *, asked_s: float | None) -> float:
        """How long to wait before trying again after `failure`, or the error to raise:
        `failure` itself when it is not transient or the give-up time has passed, or
        TimeoutError when the deadline comes first. `asked_s` is the stream's `retry:`."""
        self.check_deadline()
        if not (isinstance(failure, ApiUnreachable) or failure.status in TRANSIENT_STATUSES):
            raise failure
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._failing_since > RECONNECT_GIVE_UP_S:
            raise failure
        pause = RECONNECT_PAUSE_S if asked_s is None else asked_s
        if failure.retry_after_s is not None:
            pause = max(pause, failure.retry_after_s)
        left = self._time_left_s()
        return pause if left is None else max(0.0, min(pause, left))

    def _capped(self, seconds: float) -> float:
        left = self._time_left_s()
        return seconds if left is None else max(0.0, min(seconds, left))

    def _time_left_s(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()
