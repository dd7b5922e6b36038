"""The store's files, the broker's and the data dir are their owner's alone: 0600 files in
0700 folders, on a new install and on an older one whose files were made 0644."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import text

from chunkwise.embedded_broker import PID_FILE_NAME, EmbeddedBroker, keep_private
from chunkwise.launcher import keep_data_dir_private
from chunkwise.store import Store
from tests.waiting import wait_for

SIDE_FILES = ("-wal", "-shm")


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most systems start with, under which files are made 0644."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def store_files(db: Path) -> list[Path]:
    return [db, *(db.with_name(db.name + suffix) for suffix in SIDE_FILES)]


def open_store(db: Path) -> Store:
    """A store that has written, and still holds a connection, so -wal and -shm exist."""
    store = Store(f"sqlite:///{db}")
    store.upgrade_schema()
    with store.writer() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        session.execute(text("INSERT INTO probe VALUES (1)"))
    return store


def test_a_new_store_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "data" / "chunkwise.db"

    store = open_store(db)
    try:
        assert all(path.exists() for path in store_files(db))
        assert {path.name: mode(path) for path in store_files(db)} == {
            path.name: 0o600 for path in store_files(db)
        }
        assert mode(db.parent) == 0o700
    finally:
        store.dispose()


def test_an_older_install_is_tightened_on_start(tmp_path: Path) -> None:
    db = tmp_path / "chunkwise.db"
    older = sqlite3.connect(db)  # as an earlier release left it: 0644, WAL files too
    older.execute("PRAGMA journal_mode=WAL")
    older.execute("CREATE TABLE earlier (x INTEGER)")
    older.commit()
    try:
        assert [mode(path) for path in store_files(db)] == [0o644] * 3

        store = open_store(db)
        try:
            assert [mode(path) for path in store_files(db)] == [0o600] * 3
        finally:
            store.dispose()
    finally:
        older.close()


def test_the_data_dir_is_made_and_tightened(tmp_path: Path) -> None:
    new, older = tmp_path / "new" / ".chunkwise", tmp_path / "older"
    older.mkdir(mode=0o755)

    keep_data_dir_private(new)
    keep_data_dir_private(older)

    assert mode(new) == 0o700
    assert mode(older) == 0o700


def test_a_shared_sticky_folder_is_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)

    keep_data_dir_private(shared)

    assert mode(shared) == 0o1777


def test_the_broker_dir_of_an_older_install_is_tightened(tmp_path: Path) -> None:
    broker_dir = tmp_path / "broker"
    (broker_dir / "appendonlydir").mkdir(parents=True, mode=0o755)
    aof = broker_dir / "appendonlydir" / "appendonly.aof.1.base.aof"
    aof.write_text("")
    (broker_dir / PID_FILE_NAME).write_text("{}")
    assert mode(aof) == 0o644

    keep_private(broker_dir)

    assert mode(broker_dir) == mode(broker_dir / "appendonlydir") == 0o700
    assert mode(aof) == mode(broker_dir / PID_FILE_NAME) == 0o600


@pytest.mark.integration
def test_the_embedded_brokers_files_are_private_including_those_made_later(
    tmp_path: Path,
) -> None:
    with EmbeddedBroker(tmp_path / "broker") as broker:
        with redis.Redis.from_url(broker.url) as client:
            client.set("key", "value")
            before = client.info("persistence")["aof_rewrites"]
            client.bgrewriteaof()  # new files, made by the server after its start
            wait_for(
                lambda: (
                    client.info("persistence")["aof_rewrites"] > before
                    and not client.info("persistence")["aof_rewrite_in_progress"]
                ),
                timeout_s=20,
                what="the AOF rewrite to end",
            )
        files = [path for path in broker.data_dir.rglob("*") if path.is_file()]
        folders = [broker.data_dir, *(p for p in broker.data_dir.rglob("*") if p.is_dir())]

        assert broker.pid_file in files
        assert any(path.suffix == ".aof" for path in files)
        assert {str(path): mode(path) for path in files} == {str(path): 0o600 for path in files}
        assert {str(path): mode(path) for path in folders} == {str(path): 0o700 for path in folders}
