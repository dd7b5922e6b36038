"""This machine as a container host, for the length of a test session.

The deploy files are written for a Docker host; this machine has podman, which runs them
unchanged once what a Docker host has and podman here lacks is made up for, in the test
harness and never in deploy/:

- rlimits podman may set: its defaults are above what a process here may raise, and every
  container then fails with `error setting rlimit type 7: operation not permitted`;
- an OCI runtime that runs here: where cgroup v1 hierarchies sit beside a cgroup v2 one
  that holds a controller (hugetlb, on these machines), crun 1.8 refuses every container
  (`cgroups in hybrid mode not supported, drop all controllers from cgroupv2`); runc
  runs them;
- a Docker API socket: `podman system service` on a socket of the session's own, which
  docker-compose talks to through DOCKER_HOST;
- health checks on time: podman runs them from systemd timers, and there is no systemd
  here, so a container would stay `starting` and `depends_on: service_healthy` would never
  go on. `HealthChecks` runs `podman healthcheck run` for each container at its interval;
- one DNS server in a container: Docker's resolv.conf names its embedded DNS alone;
  podman 4.3 names aardvark-dns and then the host's servers. nginx's `resolver` asks its
  servers in turn and takes an NXDOMAIN from the host's for `api` as the answer, so half
  of its lookups would fail. `session_containers_conf` gives the session's podman a
  containers.conf (CONTAINERS_CONF) that names aardvark-dns alone, on the gateway of a
  subnet it also makes the one new networks get, so it is known before compose makes the
  project's network. aardvark-dns forwards other names to the host's servers.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.waiting import wait_for

TOOLS = ("podman", "debootstrap", "docker-compose")
AARDVARK_DNS = (Path("/usr/lib/podman/aardvark-dns"), Path("/usr/libexec/podman/aardvark-dns"))
"""Without it, containers cannot resolve each other's service names."""
CONTAINERS_CONF = Path("/etc/containers/containers.conf")
ULIMITS = 'default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]'
RUNC = 'runtime = "runc"'
CGROUP_UNIFIED = Path("/sys/fs/cgroup/unified/cgroup.controllers")
CGROUP_V1 = (Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup/cpu"))
SERVICE_START_S = 30.0
HEALTH_TICK_S = 1.0
"""How often the health loop looks for due checks; each container's own interval decides
when its check runs."""
CHECK_TIMEOUT_S = 60.0


def missing_requirements() -> str | None:
    """Why this machine cannot run the deploy test, or None when it can."""
    if os.geteuid() != 0:
        return "the deploy test runs podman and debootstrap as root"
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if not any(path.exists() for path in AARDVARK_DNS):
        missing.append("aardvark-dns")
    if missing:
        return f"missing {', '.join(missing)} (`make containers` installs them where apt can)"
    return None


def ensure_containers_conf(conf: Path = CONTAINERS_CONF) -> list[str]:
    """Settings podman needs on this machine, added to containers.conf where it has none
    of its own for them; the lines added."""
    text = conf.read_text(encoding="utf-8") if conf.exists() else ""
    added: list[str] = []
    wanted = [("containers", "default_ulimits", ULIMITS)]
    if crun_refuses_cgroups() and shutil.which("runc"):
        wanted.append(("engine", "runtime", RUNC))
    for section, key, line in wanted:
        if not re.search(rf"^\s*{key}\s*=", text, re.MULTILINE):
            text = _with_line(text, section, line)
            added.append(line)
    if added:
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(text, encoding="utf-8")
    return added


def crun_refuses_cgroups() -> bool:
    """Whether cgroups are hybrid with a controller on the v2 side, which crun refuses."""
    v1 = any(path.is_dir() for path in CGROUP_V1)
    return v1 and CGROUP_UNIFIED.exists() and bool(CGROUP_UNIFIED.read_text().split())


def _with_line(text: str, section: str, line: str) -> str:
    header = re.compile(rf"^\[{section}\][ \t]*$", re.MULTILINE)
    if header.search(text):
        return header.sub(f"[{section}]\n{line}", text, count=1)
    separator = "\n" if text and not text.endswith("\n") else ""
    return f"{text}{separator}[{section}]\n{line}\n"


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 of podman's default pool (10.89.0.0/16) that no network of podman's and no
    address of this host is on, from the top down (podman hands out from the bottom)."""
    used = [ipaddress.ip_network(s, strict=False) for s in _podman_subnets() + _host_subnets()]
    for third in range(250, 0, -1):
        subnet = ipaddress.IPv4Network(f"10.89.{third}.0/24")
        if not any(subnet.overlaps(other) for other in used if other.version == 4):
            return subnet
    raise RuntimeError("no free /24 in 10.89.0.0/16 for the deploy test's network")


def session_containers_conf(path: Path, subnet: ipaddress.IPv4Network) -> Path:
    """containers.conf for the session's podman: the system's, with new networks made on
    `subnet` and containers given its gateway (aardvark-dns) as their one DNS server."""
    text = CONTAINERS_CONF.read_text(encoding="utf-8") if CONTAINERS_CONF.exists() else ""
    text = re.sub(r"^\s*(dns_servers|default_subnet_pools)\s*=.*$\n?", "", text, flags=re.M)
    gateway = next(subnet.hosts())
    text = _with_line(text, "containers", f'dns_servers = ["{gateway}"]')
    pool = f'default_subnet_pools = [{{"base" = "{subnet}", "size" = {subnet.prefixlen}}}]'
    text = _with_line(text, "network", pool)
    path.write_text(text, encoding="utf-8")
    return path


def _podman_subnets() -> list[str]:
    networks = json.loads(podman("network", "ls", "--format", "json") or "[]")
    return [s["subnet"] for n in networks for s in n.get("subnets") or []]


def _host_subnets() -> list[str]:
    shown = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True, check=False)
    return re.findall(r"\binet (\S+)", shown.stdout)


def podman(*args: str, timeout_s: float = 120.0) -> str:
    """Run podman; its output. A failure raises, with podman's own error."""
    done = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


class PodmanService:
    """`podman system service` on `socket`: the Docker API for docker-compose, started
    for the session and stopped after it. Containers outlive it (conmon keeps them)."""

    def __init__(self, socket: Path, log: Path) -> None:
        self.socket, self.log = socket, log
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def __enter__(self) -> PodmanService:
        self.socket.parent.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                ["podman", "system", "service", "--time=0", self.docker_host],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self._answers, timeout_s=SERVICE_START_S, what="podman's Docker API socket")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self.socket.unlink(missing_ok=True)

    def _answers(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"podman system service exited {self._process.returncode}: {tail}")
        if not self.socket.exists():
            return False
        transport = httpx.HTTPTransport(uds=str(self.socket))
        try:
            with httpx.Client(transport=transport, timeout=2) as client:
                return client.get("http://podman/_ping").text == "OK"
        except httpx.HTTPError:
            return False


@dataclass(frozen=True)
class CheckedContainer:
    """A running container with a health check, and the check's interval."""

    id: str
    name: str
    interval_s: float


class HealthChecks(threading.Thread):
    """Runs every running container's health check at the check's interval, the first one
    an interval after the container is first seen, as a Docker engine times them. Faster
    would mark a slow starter unhealthy before a real engine would."""

    def __init__(self) -> None:
        super().__init__(name="health-checks", daemon=True)
        self._stopping = threading.Event()
        self._known: dict[str, CheckedContainer | None] = {}
        self._due: dict[str, float] = {}
        self._running: dict[str, Future[None]] = {}
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health-check")

    def __enter__(self) -> HealthChecks:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()
        self.join(timeout=30)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def run(self) -> None:
        while not self._stopping.wait(HEALTH_TICK_S):
            # A container gone between `ps` and `inspect` fails a tick; the next one
            # lists the containers afresh.
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired, ValueError):
                self._tick()

    def _tick(self) -> None:
        now = time.monotonic()
        running = podman("ps", "--quiet", "--no-trunc").split()
        for container_id in [known for known in self._known if known not in running]:
            self._known.pop(container_id)
            self._due.pop(container_id, None)
        for container in self._checked(running):
            due = self._due.setdefault(container.id, now + container.interval_s)
            busy = self._running.get(container.id)
            if now >= due and (busy is None or busy.done()):
                self._due[container.id] = now + container.interval_s
                self._running[container.id] = self._pool.submit(_check, container.id)

    def _checked(self, running: list[str]) -> list[CheckedContainer]:
        new = [container_id for container_id in running if container_id not in self._known]
        if new:
            for found in json.loads(podman("inspect", "--type", "container", *new) or "[]"):
                self._known[found["Id"]] = _checked_container(found)
        return [c for c in (self._known.get(i) for i in running) if c is not None]


def _checked_container(found: dict[str, Any]) -> CheckedContainer | None:
    check = (found.get("Config") or {}).get("Healthcheck") or {}
    test = check.get("Test") or []
    if not test or test[0] == "NONE":
        return None
    interval_ns = int(check.get("Interval") or 30 * 10**9)
    name = str(found.get("Name", found["Id"])).lstrip("/")
    return CheckedContainer(found["Id"], name, interval_ns / 1e9)


def _check(container_id: str) -> None:
    # A failing check is the container's business (podman records it); a container that
    # went away meanwhile is not an error either.
    subprocess.run(
        ["podman", "healthcheck", "run", container_id],
        capture_output=True,
        timeout=CHECK_TIMEOUT_S,
        check=False,
    )
