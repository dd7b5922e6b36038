"""Fixtures of the deploy test: this machine made a container host, stand-ins for the
official images, and deploy/ built and run unchanged by docker-compose on podman.

It takes minutes and root, so it runs only with CHUNKWISE_TEST_DEPLOY=1 (CI's .ci/run
sets it and runs `pytest tests/deploy` on its own); otherwise each test skips, saying so.
Each piece is a session fixture of its own, to be reused: `container_host` (podman's
Docker API and the health-check loop), `standin_images`, `stack` (built, up, ready).
"""

from __future__ import annotations

import os
import secrets
import socket
import uuid
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy import host, images
from tests.deploy.compose import (
    COMPOSE_FILE,
    DOCKERFILE,
    Compose,
    ComposeFailed,
    operator_env_file,
)
from tests.deploy.stack import PUBLIC_HOST, WORKERS, Stack
from tests.deploy.timings import Timings

ENABLE = "CHUNKWISE_TEST_DEPLOY"
DEPLOY_TIMEOUT_S = 900
"""Per test, as pytest-timeout counts it: the first test's includes building everything."""
TIMINGS_KEY = pytest.StashKey[Timings]()
IMAGE_SERVICE = "api"
"""A service built from deploy/Dockerfile."""
IMAGE = "chunkwise:latest"
"""The image the compose file builds; the one a build replaces is removed at the end."""
HERE = Path(__file__).resolve().parent
SERVICE_LOG_TAIL = 40
WORKER_DRAIN_S = 2
"""CHUNKWISE_WORKER_DRAIN_S: a stopping worker hands back what it cannot finish in 2 s."""
WORKER_TTL_S = 15
"""CHUNKWISE_WORKER_TTL_S: a lease outlives a stop, so that a chunk handed back on SIGTERM
is told apart from one taken over when the lease ran out."""


def pytest_configure(config: pytest.Config) -> None:
    config.stash[TIMINGS_KEY] = Timings()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(ENABLE) == "1":
        return
    skip = pytest.mark.skip(
        reason=f"the deploy test builds images and runs containers for minutes: {ENABLE}=1"
    )
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report carries the last lines of every service's log."""
    report = yield
    funcargs = getattr(item, "funcargs", {})
    stack = funcargs.get("baseline") or funcargs.get("stack")
    if report.when == "call" and report.failed and isinstance(stack, Stack):
        report.sections.append(
            ("service logs (last lines)", stack.compose.logs(tail=SERVICE_LOG_TAIL))
        )
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    timings = terminalreporter.config.stash.get(TIMINGS_KEY, None)
    if timings is not None and timings.rows:
        terminalreporter.section("deploy timings")
        for line in timings.table():
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def timings(request: pytest.FixtureRequest) -> Timings:
    """The table printed at the end of the run."""
    return request.config.stash[TIMINGS_KEY]


@dataclass(frozen=True)
class ContainerHost:
    """podman made a Docker host for the session."""

    docker_host: str
    scratch: Path


@pytest.fixture(scope="session")
def container_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerHost]:
    """podman's Docker API on a socket of the session's own, health checks run on time,
    and the containers.conf this machine needs (see tests/deploy/host.py)."""
    missing = host.missing_requirements()
    if missing:
        pytest.skip(missing)
    host.ensure_containers_conf()
    scratch = tmp_path_factory.mktemp("deploy")
    conf = host.session_containers_conf(scratch / "containers.conf", host.free_subnet())
    with pytest.MonkeyPatch.context() as patch:
        # Every podman of the session, the API service and the CLI alike, reads it.
        patch.setenv("CONTAINERS_CONF", str(conf))
        service = host.PodmanService(scratch / "podman.sock", scratch / "podman-service.log")
        with service, host.HealthChecks():
            yield ContainerHost(service.docker_host, scratch)


@pytest.fixture(scope="session")
def standin_images(container_host: ContainerHost, timings: Timings) -> dict[str, list[str]]:
    """The official images the deploy files name, each a stand-in built here."""
    official = images.official_images(DOCKERFILE, COMPOSE_FILE)
    base = images.ensure_base(timings.measure)
    images.ensure_standins(official, base, timings.measure)
    return official


@pytest.fixture(scope="session")
def stack(
    container_host: ContainerHost, standin_images: dict[str, list[str]], timings: Timings
) -> Iterator[Stack]:
    """deploy/ as an operator runs it: the image built from deploy/Dockerfile, then
    `up -d --scale worker=3` with Flower's profile, every service ready."""
    scratch = container_host.scratch
    flower_auth = ("admin", secrets.token_urlsafe(12))
    settings = {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
        "CHUNKWISE_ALLOWED_HOSTS": PUBLIC_HOST,
        "CHUNKWISE_FLOWER_BASIC_AUTH": ":".join(flower_auth),
        "CHUNKWISE_METRICS_TOKEN": secrets.token_urlsafe(16),
        "CHUNKWISE_WORKER_DRAIN_S": str(WORKER_DRAIN_S),
        "CHUNKWISE_WORKER_TTL_S": str(WORKER_TTL_S),
        "HTTP_PORT": str(_free_port()),
        "FLOWER_PORT": str(_free_port()),
    }
    project = f"chunkwise-deploy-{uuid.uuid4().hex[:8]}"
    with ExitStack() as cleanup:
        try:
            env_file = cleanup.enter_context(operator_env_file(scratch, settings))
        except FileExistsError as exc:
            pytest.skip(str(exc))
        compose = Compose(
            project=project,
            docker_host=container_host.docker_host,
            env_file=env_file,
            log=scratch / "compose.log",
            profiles=("flower",),
        )
        cleanup.callback(compose.run, "down", "--volumes", "--remove-orphans", "--timeout", "10")
        try:
            # One build: every chunkwise service names the same image, which `up` then finds.
            replaced = images.image_id(IMAGE)
            with timings.measure("image build (deploy/Dockerfile)"):
                compose.run("build", IMAGE_SERVICE)
            if replaced and replaced != images.image_id(IMAGE):
                cleanup.callback(images.remove_image, replaced)
            with timings.measure(f"up -d --scale worker={WORKERS}, to every service ready"):
                compose.run("up", "-d", "--scale", f"worker={WORKERS}")
                stack = _stack(compose, settings, flower_auth, scratch)
                stack.wait_ready()
        except (ComposeFailed, AssertionError) as exc:
            raise ComposeFailed(f"{exc}\n--- service logs ---\n{compose.logs()}") from None
        yield stack


def _stack(
    compose: Compose, settings: dict[str, str], flower_auth: tuple[str, str], scratch: Path
) -> Stack:
    port = compose.published_port("nginx", 80)
    flower_port = compose.published_port("flower", 5555)
    return Stack(
        compose=compose,
        url=f"http://127.0.0.1:{port}",
        flower_url=f"http://127.0.0.1:{flower_port}",
        flower_auth=flower_auth,
        metrics_token=settings["CHUNKWISE_METRICS_TOKEN"],
        settings=settings,
        scratch=scratch,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    token: str
    """The access token of the one login, made on whichever replica nginx chose."""


@pytest.fixture(scope="session")
def account(stack: Stack) -> Account:
    """A user registered and logged in through nginx, once for the session."""
    email, password = f"deploy-{uuid.uuid4().hex[:8]}@example.com", secrets.token_urlsafe(12)
    with stack.http() as http:
        registered = http.post("/api/auth/register", json={"email": email, "password": password})
        assert registered.status_code == 201, registered.text
        login = http.post("/api/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
    return Account(email, password, login.json()["access_token"])
