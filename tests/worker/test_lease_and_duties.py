"""The worker node's lease thread only renews, never dies, and is never held up by the
duties, which run on their own thread, each on its own interval."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from chunkwise.probe import ALIVE_FILE_NAME, check_worker
from chunkwise.store import Store
from chunkwise.store import workers as worker_rows
from chunkwise.worker.duties import Duties, Duty
from chunkwise.worker.lease import Lease
from chunkwise.worker.reaper import Reaper
from tests.waiting import wait_for


def beats_of(store: Store, name: str) -> Any:
    with store.reader() as session:
        return worker_rows.held_chunks(session, ttl_s=3600).get(name)


def test_the_lease_survives_any_error_and_beats_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = worker_rows.heartbeat

    def failing_then_real(session: Any, **kwargs: Any) -> None:
        calls.append(kwargs["name"])
        if len(calls) in (2, 3):
            raise RuntimeError("database is locked")  # any error at all, not just an outage
        real(session, **kwargs)

    monkeypatch.setattr(worker_rows, "heartbeat", failing_then_real)
    lease = Lease(store, name="w", interval_s=0.05, holding=lambda: ["job:1"])
    lease.start()
    try:
        wait_for(lambda: len(calls) >= 5, timeout_s=10, what="beats after two failures")
        assert lease._thread is not None and lease._thread.is_alive()
        assert beats_of(store, "w") == ["job:1"]
        assert lease.contact_s() < 10
    finally:
        lease.stop()


def test_contact_restarts_after_a_failed_beat(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    lease = Lease(store, name="w", interval_s=10)
    assert lease.beat() and lease.contact_s() >= 0
    monkeypatch.setattr(worker_rows, "heartbeat", lambda *a, **k: 1 / 0)
    assert not lease.beat()
    assert lease.contact_s() == 0.0


def test_each_beat_says_which_kinds_the_node_runs(store: Store) -> None:
    lease = Lease(store, name="w", interval_s=10, kinds=["sum_range", "cubes"])
    assert lease.beat()
    with store.reader() as session:
        assert worker_rows.live_kinds(session, ttl_s=3600) == {"sum_range": 1, "cubes": 1}


def test_a_slow_duty_does_not_delay_the_lease(store: Store) -> None:
    release = threading.Event()
    duties = Duties([Duty("stuck", 1.0, lambda: release.wait(10))])
    lease = Lease(store, name="w", interval_s=0.05)
    duties.start()
    lease.start()
    try:
        with store.reader() as session:
            first = worker_rows.live_workers(session, ttl_s=3600)
        assert first == ["w"]
        beats = []

        def beat_count() -> bool:
            with store.reader() as session:
                beats.append(worker_rows.held_chunks(session, ttl_s=0.5))
            return len([b for b in beats if "w" in b]) >= 3

        wait_for(beat_count, timeout_s=10, interval_s=0.1, what="renewals while a duty hangs")
    finally:
        release.set()
        duties.stop()
        lease.stop()


def test_each_duty_runs_on_its_own_interval_and_a_failing_one_runs_again() -> None:
    runs: dict[str, list[float]] = {"fast": [], "slow": [], "broken": []}

    def broken() -> None:
        runs["broken"].append(time.monotonic())
        raise RuntimeError("boom")

    duties = Duties(
        [
            Duty("fast", 0.05, lambda: runs["fast"].append(time.monotonic())),
            Duty("slow", 3600, lambda: runs["slow"].append(time.monotonic())),
            Duty("broken", 0.05, broken),
        ]
    )
    duties.start()
    try:
        wait_for(
            lambda: len(runs["fast"]) >= 5 and len(runs["broken"]) >= 5,
            timeout_s=10,
            what="the fast and the broken duty to run five times",
        )
    finally:
        duties.stop()
    assert len(runs["slow"]) == 1


def test_a_node_that_just_regained_the_store_does_not_reap(store: Store) -> None:
    with store.writer() as session:
        worker_rows.heartbeat(session, name="peer", holding=["x:1"])
    contact = {"s": 0.0}
    no_broker: Any = None  # not reached: the reaper stops before it publishes
    reaper = Reaper(store, no_broker, ttl_s=1.0, max_attempts=5, contact_s=lambda: contact["s"])
    assert not reaper.in_contact() and reaper.reap() == 0
    assert beats_of(store, "peer") == ["x:1"]
    contact["s"] = 1.5
    assert reaper.in_contact()


def test_the_alive_file_is_touched_even_while_the_store_is_away(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def away(session: Any, **kwargs: Any) -> None:
        raise ConnectionError("the store is restarting")

    monkeypatch.setattr(worker_rows, "heartbeat", away)
    alive = tmp_path / ALIVE_FILE_NAME
    lease = Lease(store, name="w", interval_s=0.05, alive_file=alive)
    assert check_worker(tmp_path) is not None  # no file yet: not alive
    lease.start()
    try:
        assert check_worker(tmp_path) is None
        first = alive.stat().st_mtime_ns
        wait_for(lambda: alive.stat().st_mtime_ns > first, timeout_s=10, what="a later touch")
    finally:
        lease.stop()
    os.utime(alive, (time.time() - 3600, time.time() - 3600))
    assert "last went round" in str(check_worker(tmp_path))
