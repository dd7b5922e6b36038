"""/health's background probes: a part that goes down shows at the next probe, one whose
probe hangs shows down once its last success is stale, and without the thread every call
probes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from chunkwise.api import health
from chunkwise.api.health import HealthMonitor
from chunkwise.schemas import Health
from chunkwise.store import Store
from tests.waiting import wait_for

INTERVAL_S = 0.05


class Parts:
    """What the probes answer, set by each test; `hang` makes the broker probe block."""

    def __init__(self) -> None:
        self.store = True
        self.broker = True
        self.hang = threading.Event()
        self.release = threading.Event()
        self.probes = 0

    def broker_answers(self, _: Any) -> bool:
        self.probes += 1
        if self.hang.is_set():
            self.release.wait(timeout=10)
        return self.broker


@pytest.fixture
def parts(monkeypatch: pytest.MonkeyPatch) -> Parts:
    parts = Parts()
    monkeypatch.setattr(health, "store_answers", lambda _: parts.store)
    monkeypatch.setattr(health, "broker_answers", parts.broker_answers)
    monkeypatch.setattr(health, "live_capacity", lambda _, ttl_s: (2, 3))
    return parts


def monitor(store: Store) -> HealthMonitor:
    no_broker: Any = None  # the probes are replaced
    return HealthMonitor(store, no_broker, ttl_s=3.0, interval_s=INTERVAL_S)


def report_when(watcher: HealthMonitor, wanted: Callable[[Health], bool], what: str) -> Health:
    def probe() -> Health | None:
        report = watcher.report()
        return report if wanted(report) else None

    return wait_for(probe, timeout_s=1.0, what=what)


def test_a_part_that_goes_down_shows_at_the_next_probe(store: Store, parts: Parts) -> None:
    watcher = monitor(store)
    watcher.start()
    try:
        assert watcher.report().status == "ok"
        assert (watcher.report().workers, watcher.report().processes) == (2, 3)
        parts.store = False
        report = report_when(watcher, lambda r: r.status == "unavailable", "the store down")
        assert (report.database, report.broker, report.workers) == ("unreachable", "ok", 0)
    finally:
        watcher.stop()


def test_a_hung_probe_shows_the_part_down_once_stale(store: Store, parts: Parts) -> None:
    watcher = monitor(store)
    watcher.start()
    try:
        parts.hang.set()
        report = report_when(watcher, lambda r: r.broker == "unreachable", "a stale broker")
        assert report.status == "unavailable"
    finally:
        parts.release.set()
        watcher.stop()


def test_without_the_thread_every_report_probes(store: Store, parts: Parts) -> None:
    watcher = monitor(store)
    watcher.report()
    parts.broker = False
    assert watcher.report().broker == "unreachable"
    assert parts.probes == 2
