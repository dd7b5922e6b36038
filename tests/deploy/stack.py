"""The running deployment as the tests reach it: through nginx's published port, under the
public host name, as a client on the Internet would."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from chunkwise.client import Client
from tests.deploy.compose import Compose, ComposeFailed, Container
from tests.deploy.host import podman
from tests.waiting import wait_for

SCRAPE = """
import os, urllib.error, urllib.request
token = os.environ.get("METRICS_TOKEN")
headers = {"Authorization": "Bearer " + token} if token else {}
request = urllib.request.Request("http://127.0.0.1:8000/metrics", headers=headers)
try:
    with urllib.request.urlopen(request, timeout=10) as answer:
        print(answer.status)
        print(answer.read().decode())
except urllib.error.HTTPError as exc:
    print(exc.code)
"""
"""Run inside an API container: /metrics as Prometheus scrapes a replica, by its own
address; the status on the first line, then the body."""

PUBLIC_HOST = "chunkwise.example.com"
"""CHUNKWISE_ALLOWED_HOSTS in the operator's env file: a name that is not loopback."""
WORKERS = 3
"""Worker containers of the baseline stack (`up -d --scale worker=3`)."""
READY_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 30.0


class PublicHost(httpx.HTTPTransport):
    """Sends every request to the published port on loopback with `Host: <name>`: what a
    DNS record for the name pointing at this machine would do."""

    def __init__(self, host: str = PUBLIC_HOST) -> None:
        super().__init__()
        self.host = host

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["Host"] = self.host
        return super().handle_request(request)


@dataclass(frozen=True)
class Stack:
    """The compose project, and where and how it answers."""

    compose: Compose
    url: str
    """nginx's published port on loopback."""
    flower_url: str
    flower_auth: tuple[str, str]
    metrics_token: str
    settings: dict[str, str]
    """What the operator's env file sets."""
    scratch: Path

    def http(
        self, token: str | None = None, *, timeout_s: float = REQUEST_TIMEOUT_S
    ) -> httpx.Client:
        """An HTTP client of the public side, sending `token` when given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout_s, transport=PublicHost()
        )

    def client(self, token: str) -> Client:
        """chunkwise's own Python client, on the public side."""
        return Client(self.url, token=token, timeout_s=REQUEST_TIMEOUT_S, transport=PublicHost())

    def health(self) -> dict[str, Any] | None:
        """GET /health through nginx, or None while it does not answer 200."""
        try:
            with self.http() as http:
                answer = http.get("/health")
        except httpx.HTTPError:
            return None
        if answer.status_code != 200:
            return None
        body: dict[str, Any] = answer.json()
        return body

    def scrape(self, container: Container, *, token: str | None) -> tuple[int, str]:
        """GET /metrics on one API replica from inside it: the status and the body."""
        env = ["--env", f"METRICS_TOKEN={token}"] if token else []
        printed = podman("exec", *env, container.id, "python", "-c", SCRAPE)
        status, _, body = printed.partition("\n")
        return int(status), body

    def scale_workers(self, count: int) -> list[tuple[float, str]]:
        """`up -d --scale worker=N --no-recreate`: start or stop worker containers only;
        compose's output lines, each with when it came."""
        return self.compose.run_timed("up", "-d", "--scale", f"worker={count}", "--no-recreate")

    def wait_ready(self, *, workers: int = WORKERS, timeout_s: float = READY_TIMEOUT_S) -> float:
        """Wait until every service's containers run, the schema step has succeeded, and
        nginx answers /health counting `workers` live workers; the seconds it took. (What
        the containers' own health checks say is a test of its own.)"""
        started = time.monotonic()
        wait_for(
            lambda: self._ready(workers),
            timeout_s=timeout_s,
            interval_s=1.0,
            what=f"every service up and {workers} workers live, seen through nginx",
        )
        return time.monotonic() - started

    def _ready(self, workers: int) -> bool:
        containers = self.compose.containers()
        failed = [c for c in containers if c.service == "migrate" and _failed(c)]
        if failed:
            raise ComposeFailed(
                f"the migrate step exited {failed[0].exit_code}:\n{self.compose.logs('migrate')}"
            )
        if len([c for c in containers if c.service == "worker"]) != workers:
            return False
        if not all(c.state == "running" for c in containers if c.service != "migrate"):
            return False
        health = self.health()
        return health is not None and health.get("workers") == workers


def _failed(container: Container) -> bool:
    return container.state == "exited" and container.exit_code != 0


class FollowedLogs:
    """Each container's log, followed into a file: a container that compose removes takes
    its own log with it. A follower ends when its container does, which dates the exit."""

    def __init__(self, containers: list[Container], directory: Path) -> None:
        self.files = {c.name: directory / f"{c.name}.log" for c in containers}
        self.followers: dict[str, subprocess.Popen[bytes]] = {}
        self.ended_at: dict[str, float] = {}
        for container in containers:
            with self.files[container.name].open("wb") as log:
                self.followers[container.name] = subprocess.Popen(
                    ["podman", "logs", "--follow", "--timestamps", container.id],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

    def note_ends(self, now: float) -> None:
        """Date the followers that have ended since the last call."""
        for name, follower in self.followers.items():
            if name not in self.ended_at and follower.poll() is not None:
                self.ended_at[name] = now

    def close(self) -> None:
        for follower in self.followers.values():
            follower.terminate()
            follower.wait(timeout=10)


@contextmanager
def following_logs(containers: list[Container], directory: Path) -> Iterator[FollowedLogs]:
    """The containers' logs, followed while the block runs."""
    logs = FollowedLogs(containers, directory)
    try:
        yield logs
    finally:
        logs.close()


def tails(files: dict[str, Path], lines: int = 25) -> str:
    """The last lines of followed logs, for a failure's message."""
    return "\n".join(
        f"--- {name} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        for name, path in files.items()
    )
