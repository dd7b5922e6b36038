"""EmbeddedBroker: a local, persistent Valkey that cleans up after a crashed run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from chunkwise.embedded_broker import PID_FILE_NAME, EmbeddedBroker, stop_stale_broker
from chunkwise.supervisor import is_gone
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

PYTHON = sys.executable
DEADLINE_S = 20.0


def kill_if_alive(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def client_for(url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(url, decode_responses=True) as client:
        yield client


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(tmp_path / "broker") as broker:
        yield broker


def test_start_returns_a_loopback_url_that_answers(broker: EmbeddedBroker) -> None:
    parts = urlsplit(broker.url)

    assert parts.scheme == "redis"
    assert parts.hostname == "127.0.0.1"
    assert parts.port == broker.port
    assert broker.port != 6379
    with client_for(broker.url) as client:
        assert client.ping()
        assert client.config_get("bind") == {"bind": "127.0.0.1"}


def test_server_is_configured_for_a_broker(broker: EmbeddedBroker) -> None:
    with client_for(broker.url) as client:
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        assert client.info("server")["process_id"] == broker.pid
        assert client.config_get("dir") == {"dir": str(broker.data_dir)}


def test_pid_file_is_written_on_start_and_removed_on_stop(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path)
    broker.start()
    pid = broker.pid
    try:
        record = json.loads((tmp_path / PID_FILE_NAME).read_text())
        assert record == {"pid": pid, "port": broker.port}
    finally:
        broker.stop()

    assert not (tmp_path / PID_FILE_NAME).exists()
    assert not broker.is_running
    wait_for(lambda: is_gone(pid), timeout_s=DEADLINE_S, interval_s=0.02)


def test_restart_keeps_the_url_and_the_queued_messages(broker: EmbeddedBroker) -> None:
    url = broker.url
    with client_for(url) as client:
        # Given queued messages
        client.lpush("queue", "a", "b", "c")
        old_pid = broker.pid

        # When the broker is restarted
        assert broker.restart() == url

        # Then it is a new process on the same URL, the same client reconnects,
        # and the append-only file brought the messages back
        assert broker.pid != old_pid
        assert client.lrange("queue", 0, -1) == ["c", "b", "a"]


def test_without_appendonly_a_restart_starts_empty(tmp_path: Path) -> None:
    with EmbeddedBroker(tmp_path, appendonly=False) as broker, client_for(broker.url) as client:
        client.lpush("queue", "a")
        broker.restart()
        assert client.llen("queue") == 0


BROKER_SCRIPT = """
import sys, time
from pathlib import Path
from chunkwise.embedded_broker import EmbeddedBroker

broker = EmbeddedBroker(Path(sys.argv[1]))
print(broker.start(), broker.pid, flush=True)
time.sleep(60)
"""


def test_next_start_stops_a_server_a_sigkilled_run_left_behind(tmp_path: Path) -> None:
    # Given a broker whose launcher was SIGKILLed, so its server lives on
    with subprocess.Popen(
        [PYTHON, "-c", BROKER_SCRIPT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    ) as launcher:
        assert launcher.stdout is not None
        old_url, old_pid_text = launcher.stdout.readline().split()
        old_pid = int(old_pid_text)
        launcher.kill()
    try:
        with client_for(old_url) as client:
            client.lpush("queue", "kept")
        assert not is_gone(old_pid)

        # When a new broker starts in the same data dir
        with EmbeddedBroker(tmp_path) as broker, client_for(broker.url) as client:
            # Then the old server is gone, and its queued message survived
            assert is_gone(old_pid)
            assert broker.pid != old_pid
            assert client.lrange("queue", 0, -1) == ["kept"]
    finally:
        kill_if_alive(old_pid)


def test_a_pid_file_naming_some_other_process_is_ignored(tmp_path: Path) -> None:
    # Given a PID file whose pid now belongs to an unrelated process
    with subprocess.Popen([PYTHON, "-c", "import time; time.sleep(60)"]) as stranger:
        try:
            (tmp_path / PID_FILE_NAME).write_text(json.dumps({"pid": stranger.pid, "port": 1}))

            # When the stale broker is looked for
            assert stop_stale_broker(tmp_path) is None

            # Then the stranger is untouched and the stale file is gone
            assert stranger.poll() is None
            assert not (tmp_path / PID_FILE_NAME).exists()
        finally:
            stranger.kill()


def test_a_garbled_pid_file_is_removed(tmp_path: Path) -> None:
    (tmp_path / PID_FILE_NAME).write_text("not json")

    assert stop_stale_broker(tmp_path) is None
    assert not (tmp_path / PID_FILE_NAME).exists()


def test_a_live_broker_in_another_data_dir_is_not_stopped(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    # A PID file copied to another dir names a real server, but not one run from there.
    other = tmp_path / "other"
    other.mkdir()
    (other / PID_FILE_NAME).write_bytes(broker.pid_file.read_bytes())

    assert stop_stale_broker(other) is None
    assert broker.is_running


def test_url_and_pid_need_a_started_broker(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path)

    with pytest.raises(RuntimeError):
        _ = broker.url
    with pytest.raises(RuntimeError):
        _ = broker.pid
