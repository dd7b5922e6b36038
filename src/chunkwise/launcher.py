"""`chunkwise up`: the whole system on one machine, started and stopped as one.

It runs an embedded broker (unless CHUNKWISE_BROKER_URL names one), creates the store's
tables once, then starts one worker node and the API as children and supervises them.
A stop request (Ctrl-C, SIGTERM) or any child exiting stops everything, children first,
broker last, so no process is left behind.

`--workers N` is one worker node with a pool of N processes, not N nodes: the node's
main process warms the kernels once and forks its pool from itself, so the pool shares
that memory, and one lease, one reaper and one sweeper serve the machine.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit, urlunsplit

import httpx
from rich.console import Console

from chunkwise.config import Settings
from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.store import Store
from chunkwise.supervisor import ProcessGroup, install_signal_handlers

API_READY_TIMEOUT_S = 60.0
CHILD_STOP_GRACE_S = 15.0


class LocalSystem:
    """Broker, store, a worker node of `workers` processes and the API for `chunkwise up`."""

    def __init__(self, settings: Settings, *, workers: int, console: Console) -> None:
        self.settings = settings
        self.workers = workers
        self.console = console
        self.broker: EmbeddedBroker | None = None
        self.group = ProcessGroup()

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()

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

    def _start(self) -> None:
        broker_url = self.settings.broker_url or self._start_broker()
        database_url = self.settings.resolved_database_url
        Store(database_url).create_schema()
        env = {
            **os.environ,
            "CHUNKWISE_BROKER_URL": broker_url,
            "CHUNKWISE_DATABASE_URL": database_url,
        }
        worker_argv = _chunkwise(
            "worker", "--concurrency", str(self.workers), "--name", f"worker@{socket.gethostname()}"
        )
        self.group.spawn("worker", worker_argv, env)
        api_argv = _chunkwise(
            "api", "--host", self.settings.api_host, "--port", str(self.settings.api_port)
        )
        self.group.spawn("api", api_argv, env)
        self._wait_for_api()
        self._announce(broker_url, database_url)

    def _start_broker(self) -> str:
        self.broker = EmbeddedBroker(
            self.settings.data_dir / "broker",
            appendonly=True,
            maxmemory=self.settings.broker_maxmemory,
        )
        return self.broker.start()

    def _wait_for_api(self) -> None:
        url = f"{self.settings.resolved_api_url}/health"
        deadline = time.monotonic() + API_READY_TIMEOUT_S
        while not _answers(url):
            if self.group.wait_any(timeout_s=0.2) is not None or time.monotonic() > deadline:
                raise RuntimeError("the API did not start; see its output above")

    def _announce(self, broker_url: str, database_url: str) -> None:
        base = self.settings.resolved_api_url
        self.console.print(
            f"[bold green]chunkwise is up[/]: API {base} · docs {base}/docs\n"
            f"  1 worker node of {self.workers} process(es) · broker {masked_url(broker_url)}"
            f" · store {masked_url(database_url)}\n"
            "  Ctrl-C stops everything."
        )

    def _stop(self) -> None:
        self.group.stop_all(grace_s=CHILD_STOP_GRACE_S)
        if self.broker is not None:
            # Ctrl-C in a terminal reaches the broker too, and it may be gone already;
            # stop() still reaps it and removes its PID file.
            self.broker.stop()


def masked_url(url: str) -> str:
    """`url` with its password, if any, shown as *** (the console may be shared or logged)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


def _chunkwise(*args: str) -> list[str]:
    return [sys.executable, "-m", "chunkwise", *args]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code < 500
    except httpx.HTTPError:
        return False
