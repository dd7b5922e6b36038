"""ProcessGroup: children are watched, stopped in order, and never left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chunkwise.supervisor import ProcessGroup, is_gone
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

PYTHON = sys.executable
SLEEPER = [PYTHON, "-c", "import time; time.sleep(60)"]
DEADLINE_S = 20.0


def ignores_sigterm(ready: Path) -> list[str]:
    """A child that shrugs off SIGTERM, and touches `ready` once it does."""
    code = (
        "import pathlib, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "pathlib.Path(sys.argv[1]).touch()\n"
        "time.sleep(60)\n"
    )
    return [PYTHON, "-c", code, str(ready)]


@pytest.fixture
def group() -> Iterator[ProcessGroup]:
    with ProcessGroup(poll_interval_s=0.05) as group:
        yield group


def test_stop_all_terminates_and_reaps_every_child(group: ProcessGroup) -> None:
    # Given two running children
    first = group.spawn("first", SLEEPER)
    second = group.spawn("second", SLEEPER)

    # When they are stopped
    group.stop_all(grace_s=10.0)

    # Then both died of SIGTERM, were reaped, and no longer exist
    assert first.returncode == -signal.SIGTERM
    assert second.returncode == -signal.SIGTERM
    for pid in (first.pid, second.pid):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_each_child_leads_its_own_process_group(group: ProcessGroup) -> None:
    child = group.spawn("child", SLEEPER)

    assert os.getpgid(child.pid) == child.pid
    assert os.getpgid(child.pid) != os.getpgid(0)


def test_wait_any_reports_an_exited_child_once(group: ProcessGroup) -> None:
    group.spawn("steady", SLEEPER)
    group.spawn("quitter", [PYTHON, "-c", "raise SystemExit(3)"])

    assert group.wait_any(timeout_s=DEADLINE_S) == "quitter"
    assert group.returncode("quitter") == 3
    assert group.returncode("steady") is None
    # Already reported, and nothing else exits: the next wait times out.
    assert group.wait_any(timeout_s=0.2) is None


def test_wait_any_returns_none_once_a_stop_is_requested(group: ProcessGroup) -> None:
    group.spawn("steady", SLEEPER)
    group.request_stop()

    assert group.run_until_stopped() is None


def test_a_child_ignoring_sigterm_is_killed_after_the_grace_period(
    group: ProcessGroup, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    stubborn = group.spawn("stubborn", ignores_sigterm(ready))
    polite = group.spawn("polite", SLEEPER)
    wait_for(ready.exists, timeout_s=DEADLINE_S, interval_s=0.02)

    group.stop_all(grace_s=0.5)

    assert stubborn.returncode == -signal.SIGKILL
    assert polite.returncode == -signal.SIGTERM


def spawn_parent_of_a_stubborn_child(group: ProcessGroup, tmp_path: Path) -> int:
    """Spawn the child "parent", whose own child ignores SIGTERM; return that grandchild's pid."""
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time\n"
        f"grandchild = subprocess.Popen({ignores_sigterm(tmp_path / 'ready')!r})\n"
        "open(sys.argv[1] + '.tmp', 'w').write(str(grandchild.pid))\n"
        "__import__('os').replace(sys.argv[1] + '.tmp', sys.argv[1])\n"
        "time.sleep(60)\n"
    )
    group.spawn("parent", [PYTHON, "-c", code, str(pid_file)])
    wait_for(
        lambda: pid_file.exists() and (tmp_path / "ready").exists(),
        timeout_s=DEADLINE_S,
        interval_s=0.02,
    )
    return int(pid_file.read_text())


def test_stop_all_kills_grandchildren_a_child_left_behind(
    group: ProcessGroup, tmp_path: Path
) -> None:
    # Given a child whose own child ignores SIGTERM and outlives it
    grandchild_pid = spawn_parent_of_a_stubborn_child(group, tmp_path)

    # When the group is stopped
    group.stop_all(grace_s=5.0)

    # Then the grandchild is gone too
    wait_for(lambda: is_gone(grandchild_pid), timeout_s=DEADLINE_S, interval_s=0.02)


def test_send_signal_reaches_the_childs_whole_process_group(
    group: ProcessGroup, tmp_path: Path
) -> None:
    grandchild_pid = spawn_parent_of_a_stubborn_child(group, tmp_path)

    group.send_signal("parent", signal.SIGKILL)

    assert group.wait_any(timeout_s=DEADLINE_S) == "parent"
    assert group.returncode("parent") == -signal.SIGKILL
    wait_for(lambda: is_gone(grandchild_pid), timeout_s=DEADLINE_S, interval_s=0.02)


SUPERVISOR_SCRIPT = """
import sys, time
from chunkwise.supervisor import ProcessGroup, install_signal_handlers

group = ProcessGroup(poll_interval_s=0.05)
restore = install_signal_handlers(group.request_stop)
child = group.spawn("child", [sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
if sys.argv[1] == "hang":
    time.sleep(60)
exited = group.run_until_stopped()
group.stop_all(grace_s=5.0)
print("exited:", exited, "child:", child.returncode, flush=True)
"""


@contextlib.contextmanager
def running_supervisor(mode: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A supervisor in its own process, and the pid of the child it spawned."""
    with subprocess.Popen(
        [PYTHON, "-c", SUPERVISOR_SCRIPT, mode], stdout=subprocess.PIPE, text=True
    ) as supervisor:
        assert supervisor.stdout is not None
        child_pid = int(supervisor.stdout.readline())
        try:
            yield supervisor, child_pid
        finally:
            supervisor.kill()
            if not is_gone(child_pid):
                os.kill(child_pid, signal.SIGKILL)


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
def test_children_die_when_the_supervisor_is_sigkilled() -> None:
    with running_supervisor("hang") as (supervisor, child_pid):
        assert not is_gone(child_pid)

        supervisor.kill()
        supervisor.wait()

        wait_for(lambda: is_gone(child_pid), timeout_s=DEADLINE_S, interval_s=0.02)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_supervisor_stops_it_cleanly(sig: signal.Signals) -> None:
    with running_supervisor("run") as (supervisor, child_pid):
        supervisor.send_signal(sig)
        out, _ = supervisor.communicate(timeout=DEADLINE_S)

        assert supervisor.returncode == 0
        assert out.strip() == f"exited: None child: {-signal.SIGTERM}"
        wait_for(lambda: is_gone(child_pid), timeout_s=DEADLINE_S, interval_s=0.02)
