"""LocalSystem, the one way the whole system starts: a part that cannot start ends the
start at once, named, and nothing it started is left running."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chunkwise.config import Settings
from chunkwise.launcher import LocalSystem, SystemDidNotStart

pytestmark = pytest.mark.integration


def start_and_stop(system: LocalSystem) -> None:
    with system:
        pass


def test_a_part_that_exits_while_starting_is_named_and_nothing_is_left(tmp_path: Path) -> None:
    # Given children whose settings are invalid, so each exits as it starts
    env = {**os.environ, "CHUNKWISE_WORKER_TTL_S": "not a number"}
    system = LocalSystem(
        Settings(data_dir=tmp_path, broker_url="", api_port=0),
        worker_names=["worker1@test"],
        env=env,
        log_level="warning",
    )

    # When the system starts, it fails naming the part that exited (not by timing out)
    with pytest.raises(SystemDidNotStart, match=r"(worker1@test|api) exited while"):
        start_and_stop(system)

    # And every child was reaped, and the broker stopped and removed its PID file
    assert set(system.group.children) == {"worker1@test", "api"}
    assert all(child.returncode is not None for child in system.group.children.values())
    assert not system.broker.is_running
    assert not (tmp_path / "broker" / "broker.pid").exists()
