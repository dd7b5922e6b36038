"""The whole system on one machine, started and stopped as one: `chunkwise up`, and the
live systems the tests and benchmarks run.

:class:`LocalSystem` runs an embedded broker (unless CHUNKWISE_BROKER_URL names one),
creates the store's tables once, then starts worker nodes and the API as children and
supervises them. It is ready once the API reports every worker process alive. Stopping
(Ctrl-C, SIGTERM, leaving its with-block, or any child exiting under `run()`) stops
everything, children first, broker last, so no process is left behind.

`chunkwise up --workers N` is one worker node with a pool of N processes, not N nodes: the
node's main process warms the kernels once and forks its pool from itself, so the pool
shares that memory, and one lease, one reaper and one sweeper serve the machine. Tests run
two nodes instead, so they can kill one and watch the other take over.

The pieces anything that starts chunkwise processes needs are module functions here, so
each is written once: :func:`chunkwise_argv`, :func:`free_port`, :func:`api_answers` and
:func:`wait_until_healthy`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import stat
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from rich.console import Console

from chunkwise.config import Settings
from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.store import Store
from chunkwise.supervisor import ProcessGroup, Service, install_signal_handlers

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 120.0
"""How long the workers may take to warm up and the API to answer, on a busy machine."""
CHILD_STOP_GRACE_S = 15.0
HEALTH_POLL_S = 0.2


class SystemDidNotStart(RuntimeError):
    """A part exited while the system was starting, or it was not ready in time."""


class LocalSystem(Service):
    """Broker, store, worker nodes and the API of one machine, as one with-block.

    Args:
        settings: Where the parts are; an empty broker URL starts an embedded broker in
            data_dir, API port 0 picks a free port. After start(), `settings` holds the
            broker URL and API port in use.
        processes: Pool processes of each worker node.
        worker_names: One worker node per name; default one node named after this host.
        console: Where the announcement and stop messages go; default nowhere.
        env: The children's environment; default this process's.
        worker_env: Added to the workers' environment only (a store reached differently).
        log_level: The API's and the workers' log level.
        ready_timeout_s: How long start() waits for every worker process to be reported
            alive before it gives up (SystemDidNotStart).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        processes: int = 1,
        worker_names: Sequence[str] | None = None,
        console: Console | None = None,
        env: Mapping[str, str] | None = None,
        worker_env: Mapping[str, str] | None = None,
        log_level: str = "info",
        ready_timeout_s: float = READY_TIMEOUT_S,
    ) -> None:
        self.settings = settings
        self.processes = processes
        self.worker_names = list(worker_names or [f"worker@{socket.gethostname()}"])
        self.console = console or Console(quiet=True)
        self.env = dict(os.environ if env is None else env)
        self.worker_env = dict(worker_env or {})
        self.log_level = log_level
        self.ready_timeout_s = ready_timeout_s
        self.group = ProcessGroup()
        self._broker: EmbeddedBroker | None = None
        self._api_starts = 0

    @property
    def broker(self) -> EmbeddedBroker:
        """The embedded broker (RuntimeError if CHUNKWISE_BROKER_URL named another)."""
        if self._broker is None:
            raise RuntimeError("this system runs no embedded broker")
        return self._broker

    @property
    def api_url(self) -> str:
        """The API's base URL."""
        return self.settings.resolved_api_url

    def start(self) -> None:
        """Start every part and return once the API reports every worker process alive."""
        if self.settings.api_port == 0:
            self.settings = self.settings.model_copy(update={"api_port": free_port()})
        keep_data_dir_private(self.settings.data_dir)
        broker_url = self.settings.broker_url or self._start_broker()
        self.settings = self.settings.model_copy(update={"broker_url": broker_url})
        database_url = self.settings.resolved_database_url
        _upgrade_schema(database_url)
        self.env |= {"CHUNKWISE_BROKER_URL": broker_url, "CHUNKWISE_DATABASE_URL": database_url}
        for name in self.worker_names:
            self.spawn_worker(name)
        self.spawn_api()
        self._wait_until_ready()
        self.console.print(
            announcement(
                self.api_url,
                broker_url=broker_url,
                database_url=database_url,
                nodes=len(self.worker_names),
                processes=self.processes,
                accounts=self.settings.auth_on,
            )
        )

    def spawn_worker(self, name: str) -> None:
        """Start the worker node `name` (a name in worker_names, or a new one)."""
        argv = chunkwise_argv(
            "worker",
            "--concurrency",
            str(self.processes),
            "--name",
            name,
            "--loglevel",
            self.log_level.upper(),
        )
        self.group.spawn(name, argv, {**self.env, **self.worker_env})

    def kill_worker(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the worker node `name` and its pool; SIGKILL is its machine dying."""
        self.group.send_signal(name, sig)

    def spawn_api(self) -> None:
        """Start the API (again, after kill_api())."""
        self._api_starts += 1
        self.group.spawn(self._api_name, api_argv(self.settings, self.log_level), self.env)

    def kill_api(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the API process that spawn_api() started last."""
        self.group.send_signal(self._api_name, sig)

    def api_answers(self) -> bool:
        """Whether the API answers HTTP requests (it may still report a part down)."""
        return api_answers(self.api_url)

    def run(self) -> int:
        """Wait until asked to stop (0) or until a child exits on its own (1)."""
        restore = install_signal_handlers(self.group.request_stop)
        try:
            exited = self.group.run_until_stopped()
        finally:
            restore()
        if exited is None:
            self.console.print("stopping…")
            return 0
        code = self.group.returncode(exited)
        self.console.print(f"[red]{exited} exited (code {code}); stopping everything.[/]")
        return 1

    def stop(self) -> None:
        """Stop the children (API first), then the broker; every child is reaped."""
        # Workers drain first (CHUNKWISE_WORKER_DRAIN_S): a SIGKILL before the drain ends
        # would leave their chunks to wait for the reaper.
        self.group.stop_all(grace_s=CHILD_STOP_GRACE_S + self.settings.worker_drain_s)
        if self._broker is not None:
            # Ctrl-C in a terminal reaches the broker too, and it may be gone already;
            # stop() still reaps it and removes its PID file.
            self._broker.stop()

    @property
    def _api_name(self) -> str:
        return "api" if self._api_starts <= 1 else f"api-{self._api_starts}"

    def _start_broker(self) -> str:
        self._broker = EmbeddedBroker(
            self.settings.data_dir / "broker",
            appendonly=True,
            maxmemory=self.settings.broker_maxmemory,
        )
        return self._broker.start()

    def _wait_until_ready(self) -> None:
        nodes, processes = len(self.worker_names), len(self.worker_names) * self.processes

        def ready(health: Mapping[str, Any]) -> bool:
            counts = (health.get("workers"), health.get("processes"))
            return health.get("status") == "ok" and counts == (nodes, processes)

        wait_until_healthy(
            self.api_url,
            ready,
            what=f"the API to report {nodes} worker node(s) of {processes} process(es) in all",
            timeout_s=self.ready_timeout_s,
            exited=lambda: self.group.wait_any(timeout_s=0),
        )


def announcement(
    api_url: str,
    *,
    broker_url: str,
    database_url: str,
    nodes: int,
    processes: int,
    accounts: bool = False,
) -> str:
    """What `chunkwise up` prints once the system is ready; passwords are masked."""
    workers = (
        f"1 worker node of {processes} process(es)"
        if nodes == 1
        else f"{nodes} worker nodes of {processes} process(es) each"
    )
    return (
        f"[bold green]chunkwise is up[/]: API {api_url} · docs {api_url}/docs\n"
        f"  {workers} · broker {masked_url(broker_url)} · store {masked_url(database_url)}\n"
        f"  {auth_mode(accounts)}\n"
        "  Ctrl-C stops everything."
    )


def auth_mode(accounts: bool) -> str:
    """One line saying whether the API asks for accounts."""
    if accounts:
        return "accounts on: sign in (chunkwise login) or send Authorization: Bearer <token>"
    return "accounts off: a private install on loopback, every caller sees every job"


def masked_url(url: str) -> str:
    """`url` with its password, if any, shown as *** (the console may be shared or logged)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


PRIVATE_DIR_MODE = 0o700


def keep_data_dir_private(data_dir: Path) -> None:
    """Make the data dir if missing and leave it its owner's alone (0700), an older
    install's too: it holds the SQLite store and the broker's files.

    Only the folder itself: the store and the broker keep their own files private. A
    folder the operator shares with others (a sticky one like /tmp), or another user's, is
    left as it is, with a warning; so is one that cannot be changed.
    """
    data_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    info = data_dir.stat()
    if stat.S_IMODE(info.st_mode) == PRIVATE_DIR_MODE:
        return
    if info.st_mode & stat.S_ISVTX or info.st_uid != os.getuid():
        log.warning("data dir %s is shared or another user's; its mode is left as it is", data_dir)
        return
    try:
        data_dir.chmod(PRIVATE_DIR_MODE)
    except OSError as exc:
        log.warning("could not make the data dir %s private (0700): %s", data_dir, exc)


def chunkwise_argv(*args: str) -> list[str]:
    """The command line of `chunkwise ARGS…`, run by this Python, whatever PATH holds."""
    return [sys.executable, "-m", "chunkwise", *args]


def api_argv(settings: Settings, log_level: str = "info") -> list[str]:
    """`chunkwise api` on the settings' host and port (broker and store come from the
    environment)."""
    return chunkwise_argv(
        "api",
        "--host",
        settings.api_host,
        "--port",
        str(settings.api_port),
        "--log-level",
        log_level.lower(),
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a server started next."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def api_answers(api_url: str) -> bool:
    """Whether an API answers at `api_url` at all, whatever the state of its broker and store.

    It asks for the root page, which touches neither, so the answer is quick even when
    they are down.
    """
    try:
        httpx.get(f"{api_url}/", timeout=1.0)
    except httpx.HTTPError:
        return False
    return True


def api_health(api_url: str) -> dict[str, Any] | None:
    """The API's /health report (200 or 503 alike), or None while the API does not answer."""
    try:
        body = httpx.get(f"{api_url}/health", timeout=2.0).json()
    except (httpx.HTTPError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def wait_until_healthy(
    api_url: str,
    ready: Callable[[Mapping[str, Any]], bool],
    *,
    what: str,
    timeout_s: float,
    exited: Callable[[], str | None] = lambda: None,
) -> None:
    """Poll /health until `ready(report)`; raise SystemDidNotStart if `exited()` names a
    process that exited meanwhile, or when `timeout_s` passes (saying what it waited for)."""
    deadline = time.monotonic() + timeout_s
    while True:
        report = api_health(api_url)
        if report is not None and ready(report):
            return
        gone = exited()
        if gone is not None:
            raise SystemDidNotStart(f"{gone} exited while the system was starting; see its output")
        if time.monotonic() > deadline:
            raise SystemDidNotStart(
                f"timed out after {timeout_s:g} s waiting for {what}; /health said {report}"
            )
        time.sleep(HEALTH_POLL_S)


def _upgrade_schema(database_url: str) -> None:
    """Create the store's tables once, before any child races to."""
    store = Store(database_url)
    try:
        store.upgrade_schema()
    finally:
        store.dispose()
