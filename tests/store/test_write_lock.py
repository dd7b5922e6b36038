"""A SQLite writer that meets another's write lock takes it as soon as it is free, and
its connection keeps SQLite's busy timeout for every other statement."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from chunkwise.store import Store, jobs
from chunkwise.store import db as store_db
from tests.waiting import wait_for


def test_a_waiting_writer_takes_the_lock_once_its_holder_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade_schema()
    met_the_lock = threading.Event()
    is_busy = store_db._is_busy

    def noting_busy(exc: sqlite3.Error) -> bool:
        busy = is_busy(exc)
        if busy:
            met_the_lock.set()
        return busy

    monkeypatch.setattr(store_db, "_is_busy", noting_busy)
    holder = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    seen: list[tuple[int, int]] = []

    def write() -> None:
        with store.writer() as session:
            timeout = session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar_one()
            seen.append((jobs.count_jobs(session), timeout))

    writer = threading.Thread(target=write)
    writer.start()
    try:
        wait_for(met_the_lock.is_set, timeout_s=10, what="the writer to meet the held lock")
        assert seen == []
        holder.commit()
        writer.join(timeout=10)
    finally:
        holder.close()
        store.dispose()
    assert not writer.is_alive()
    assert seen == [(0, store_db.SQLITE_BUSY_TIMEOUT_MS)]
