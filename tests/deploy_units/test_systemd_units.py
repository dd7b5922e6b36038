"""The systemd units in deploy/systemd, checked three ways.

- systemd accepts them: `systemd-analyze verify` in a scratch root holding the units where
  an operator installs them, the system's own units (the targets they name) and an
  executable at every path their commands start, so each unit is verified as written.
  verify exits 0 after what it only warns about (an unknown key, a value it cannot parse
  and so ignores), so anything it prints fails the test too.
- The API unit starts where the unit says it runs: its ExecStartPre= and ExecStart= lines,
  with its Environment= alone and its WorkingDirectory=, in a bubblewrap sandbox shaped
  like ProtectSystem=strict, PrivateTmp= and StateDirectory=: everything read-only but the
  state directory, and a private /tmp and /var/tmp. systemd is not PID 1 here and need
  not be: those settings are what decide where the service may write.
- A stopping worker node has time to drain: the unit's stop timeout exceeds the drain, and
  the SIGTERM goes to the node's main process alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from chunkwise.config import Settings
from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.launcher import free_port
from tests.waiting import wait_for

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
API_UNIT = UNITS / "chunkwise-api.service"
WORKER_UNIT = UNITS / "chunkwise-worker.service"
INSTALLED_CHUNKWISE = "/opt/chunkwise/.venv/bin/chunkwise"
"""Where the units start chunkwise from; the tests start this checkout's instead."""
CHECKOUT_CHUNKWISE = Path(sys.executable).with_name("chunkwise")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
BWRAP = shutil.which("bwrap")
SYSTEM_UNITS = Path("/usr/lib/systemd/system")
EXEC_KEYS = ("ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload", "ExecStop")
STATE_ROOT = Path("/var/lib")
"""Where StateDirectory= puts a system service's state directory (%S)."""
SPECIFIERS = {"%S": "/var/lib", "%C": "/var/cache", "%%": "%"}
"""The unit specifiers the tests expand: the directories of a system service."""
SERVICE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
"""The PATH systemd gives a service; the sandbox adds nothing else to the unit's Environment=."""
TIME_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0, "h": 3600.0}
LOCAL_REDIS = ("127.0.0.1", 6379)
LOCAL_REDIS_DB = 13
START_TIMEOUT_S = 60.0
DRAIN_MARGIN_S = 10.0
"""What a stopping worker needs past its drain: handing back its chunks and exiting."""
CLEAN_STOPS = {0: "exit 0", 128 + signal.SIGTERM: "SIGTERM"}
"""bwrap's exit statuses that systemd counts as a clean stop: the command's exit 0, or its
death by the SIGTERM it was sent (bwrap reports a death by signal N as 128 + N). uvicorn
shuts down gracefully on SIGTERM and then raises it again, so the API ends the second way,
and systemd, whose SuccessExitStatus= takes SIGTERM by default, records a clean stop."""


def expand(value: str) -> str:
    """`value` with its specifiers replaced; one the tests do not know fails them."""

    def replace(found: re.Match[str]) -> str:
        if found.group() not in SPECIFIERS:
            raise ValueError(f"the tests do not expand the specifier {found.group()}")
        return SPECIFIERS[found.group()]

    return re.sub(r"%.", replace, value)


def seconds(span: str | None) -> float:
    """A systemd time span ("45", "45s", "1min 30s") in seconds."""
    assert span, "no time span"
    return sum(
        float(number) * TIME_UNITS[unit]
        for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", span)
    )


@dataclass(frozen=True)
class Unit:
    """A unit file's settings: each (section, key) with its values in the order given."""

    path: Path
    entries: Mapping[tuple[str, str], list[str]]

    @classmethod
    def read(cls, path: Path) -> Unit:
        entries: dict[tuple[str, str], list[str]] = {}
        section = ""
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            entries.setdefault((section, key.strip()), []).append(value.strip())
        return cls(path, entries)

    def values(self, key: str, section: str = "Service") -> list[str]:
        return self.entries.get((section, key), [])

    def value(self, key: str, section: str = "Service") -> str | None:
        """The last value given, the one systemd keeps for a key that takes one."""
        given = self.values(key, section)
        return given[-1] if given else None

    def environment(self) -> dict[str, str]:
        """Environment=: space-separated assignments, quoted where they hold spaces."""
        assignments = [
            item.partition("=")
            for value in self.values("Environment")
            for item in shlex.split(expand(value))
        ]
        return {name: value for name, _, value in assignments}

    def commands(self, key: str) -> list[list[str]]:
        """The command lines of an Exec*= key, without their prefixes (-, @, +, !, :)."""
        return [shlex.split(expand(value.lstrip("-@+!:|"))) for value in self.values(key)]

    @property
    def state_directory(self) -> Path:
        name = self.value("StateDirectory")
        assert name, f"{self.path.name} has no StateDirectory="
        return STATE_ROOT / name.split()[0]


# systemd accepts the units.


def verification_root(root: Path, unit: Unit) -> Path:
    """Lays out a root for `systemd-analyze verify --root`; returns the unit's path in it."""
    shutil.copytree(SYSTEM_UNITS, root / SYSTEM_UNITS.relative_to("/"), symlinks=True)
    for key in EXEC_KEYS:
        for program, *_ in unit.commands(key):
            source = CHECKOUT_CHUNKWISE if program == INSTALLED_CHUNKWISE else Path(program)
            if source.exists():  # else verify says the command is missing
                target = root / program.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    installed = root / "etc" / "systemd" / "system" / unit.path.name
    installed.parent.mkdir(parents=True)
    shutil.copy2(unit.path, installed)
    return installed


@pytest.mark.integration
@pytest.mark.parametrize("path", [API_UNIT, WORKER_UNIT], ids=["api", "worker"])
def test_systemd_accepts_the_unit(path: Path, tmp_path: Path) -> None:
    if SYSTEMD_ANALYZE is None:
        pytest.skip("no systemd-analyze (Debian's systemd package)")
    installed = verification_root(tmp_path, Unit.read(path))

    options = [f"--root={tmp_path}", "--man=no", "--generators=false"]
    checked = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", *options, str(installed)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    said = (checked.stdout + checked.stderr).strip()
    assert checked.returncode == 0 and not said, said or f"verify exited {checked.returncode}"


# The API unit starts with its state directory as its only writable place.


def state_directory_mounts(state: Path, target: Path) -> list[str]:
    """bwrap mounts showing the host's `target.parent` read-only, `state` writable at `target`.

    bwrap cannot make a mount point inside a read-only /var/lib (nor should a test make one
    on the host), so /var/lib is rebuilt on a tmpfs: every host entry bound read-only, the
    state directory bound writable, then the tmpfs itself made read-only (not recursively,
    so the state directory stays writable).
    """
    parent = target.parent
    mounts = ["--tmpfs", str(parent)]
    for entry in sorted(parent.iterdir()):
        if entry == target:
            continue
        if entry.is_symlink():
            mounts += ["--symlink", os.readlink(entry), str(entry)]
        else:
            mounts += ["--ro-bind", str(entry), str(entry)]
    return [*mounts, "--bind", str(state), str(target), "--remount-ro", str(parent)]


def sandboxed(unit: Unit, state: Path, command: Sequence[str]) -> list[str]:
    """The bwrap command line that runs `command` where `unit` runs it, `state` standing
    for its state directory and this checkout's chunkwise for the installed one."""
    assert BWRAP
    program, *arguments = command
    if program == INSTALLED_CHUNKWISE:
        program = str(CHECKOUT_CHUNKWISE)
    mounts = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    mounts += ["--tmpfs", "/tmp", "--tmpfs", "/var/tmp"]  # PrivateTmp=
    mounts += state_directory_mounts(state, unit.state_directory)
    working_directory = unit.value("WorkingDirectory") or "/"  # systemd's default is /
    chdir = ["--chdir", working_directory]
    return [BWRAP, "--die-with-parent", *mounts, *chdir, "--", program, *arguments]


@contextlib.contextmanager
def started(
    command: Sequence[str], env: Mapping[str, str], log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Starts a bwrap command line; yields bwrap and the pid of the command it runs.

    bwrap does not pass signals on, so a stop is sent to that pid, as systemd sends it to
    the service's main process; bwrap then exits with the command's exit status.
    """
    info_read, info_write = os.pipe()
    with log.open("wb") as out:
        bwrap = subprocess.Popen(
            [command[0], "--info-fd", str(info_write), *command[1:]],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=(info_write,),
        )
    os.close(info_write)
    with os.fdopen(info_read) as info_file:
        info = info_file.read()
    assert info, f"bwrap did not start the command: {bwrap.wait()}: {log.read_text()}"
    pid = int(json.loads(info)["child-pid"])
    try:
        yield bwrap, pid
    finally:
        if bwrap.poll() is None:
            # The command, not bwrap: bwrap's --die-with-parent is about bwrap's parent (the
            # test), and a SIGKILLed bwrap leaves its command running.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            bwrap.wait()


def api_is_healthy(url: str, bwrap: subprocess.Popen[bytes], log: Path) -> bool:
    if bwrap.poll() is not None:
        raise AssertionError(f"the API exited {bwrap.returncode}:\n{log.read_text()}")
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def on_port(command: Sequence[str], port: int) -> list[str]:
    """`command` with the value of its --port replaced by `port`."""
    changed = list(command)
    changed[changed.index("--port") + 1] = str(port)
    return changed


def local_redis_answers() -> bool:
    try:
        socket.create_connection(LOCAL_REDIS, timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def broker_url(tmp_path: Path) -> Iterator[str]:
    """The Redis on 127.0.0.1:6379 where one answers, else an embedded one."""
    if local_redis_answers():
        host, port = LOCAL_REDIS
        yield f"redis://{host}:{port}/{LOCAL_REDIS_DB}"
        return
    with EmbeddedBroker(tmp_path / "broker", appendonly=False) as broker:
        yield broker.url


@pytest.mark.integration
def test_the_api_unit_serves_with_its_state_directory_as_its_only_writable_place(
    tmp_path: Path, broker_url: str
) -> None:
    if BWRAP is None:
        pytest.skip("no bwrap (Debian's bubblewrap package)")
    # Given the API unit, its state directory empty, and the broker URL that
    # /etc/chunkwise/chunkwise.env would give it
    unit = Unit.read(API_UNIT)
    state = tmp_path / "state"
    state.mkdir()
    env = {"PATH": SERVICE_PATH, **unit.environment(), "CHUNKWISE_BROKER_URL": broker_url}
    for command in unit.commands("ExecStartPre"):
        done = subprocess.run(
            sandboxed(unit, state, command), env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{shlex.join(command)}:\n{done.stdout}{done.stderr}"
    (command,) = unit.commands("ExecStart")
    port = free_port()
    log = tmp_path / "api.log"

    # When it starts, answers, and is stopped as systemd stops it
    with started(sandboxed(unit, state, on_port(command, port)), env, log) as (bwrap, pid):
        wait_for(
            lambda: api_is_healthy(f"http://127.0.0.1:{port}/health", bwrap, log),
            timeout_s=START_TIMEOUT_S,
            what="GET /health to answer 200",
        )
        os.kill(pid, signal.SIGTERM)
        wait_for(
            lambda: bwrap.poll() is not None,
            timeout_s=seconds(unit.value("TimeoutStopSec")),
            what="the API to exit within TimeoutStopSec",
        )

    # Then it shut down cleanly, and its store is in the state directory
    said = log.read_text()
    assert bwrap.returncode in CLEAN_STOPS and "Application shutdown complete" in said, said
    store_url = Settings(data_dir=unit.state_directory, database_url="").resolved_database_url
    store_file = Path(store_url.removeprefix("sqlite:///")).relative_to(unit.state_directory)
    assert (state / store_file).is_file(), sorted(path.name for path in state.iterdir())


# What the units say.


@pytest.mark.parametrize("path", [API_UNIT, WORKER_UNIT], ids=["api", "worker"])
def test_the_unit_keeps_its_data_in_its_state_directory(path: Path) -> None:
    unit = Unit.read(path)

    assert unit.value("WorkingDirectory") == str(unit.state_directory)
    assert unit.environment()["CHUNKWISE_DATA_DIR"] == str(unit.state_directory)


def test_the_worker_unit_caches_compiled_kernels_in_its_cache_directory() -> None:
    unit = Unit.read(WORKER_UNIT)
    cache = unit.value("CacheDirectory")

    assert cache
    assert Path(unit.environment()["NUMBA_CACHE_DIR"]).is_relative_to(
        Path(SPECIFIERS["%C"]) / cache.split()[0]
    )


def test_a_stopping_worker_node_has_time_to_drain_and_hand_back() -> None:
    unit = Unit.read(WORKER_UNIT)
    drain_s = float(Settings.model_fields["worker_drain_s"].default)

    assert seconds(unit.value("TimeoutStopSec")) >= drain_s + DRAIN_MARGIN_S
    # The node alone gets the SIGTERM, and stops its pool children itself
    assert unit.value("KillMode") == "mixed"
    assert unit.value("KillSignal") in (None, "SIGTERM")
