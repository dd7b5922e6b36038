"""Waiting on conditions with a deadline: tests never sleep a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class ConditionTimeout(AssertionError):
    """Raised when a condition did not come true before its deadline."""


def wait_for(
    probe: Callable[[], T | None], *, timeout_s: float, interval_s: float = 0.05, what: str = ""
) -> T:
    """Call `probe` until it returns a truthy value, and return that value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ConditionTimeout(f"timed out after {timeout_s} s waiting for {what or probe}")
        time.sleep(interval_s)
