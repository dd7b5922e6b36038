"""deploy/docker-compose.yml, run unchanged by docker-compose against podman's Docker API,
as an operator following the README runs it, under a project name of the test's own.

The operator's part is the env file: a scratch copy of deploy/.env.example with the
secrets and host name set. The compose file reads `env_file: .env` beside itself, so
for the session deploy/.env is that copy (made only where none exists, removed after);
`--env-file` hands the same values to the compose file's own ${...} substitutions.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.deploy.host import podman

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
ENV_EXAMPLE = DEPLOY / ".env.example"
OPERATOR_ENV = DEPLOY / ".env"
COMPOSE_TIMEOUT_S = 900.0
HTTP_TIMEOUT_S = "300"
"""docker-compose's own wait for an API answer (60 s by default): a stop with a long grace
period, or a build, takes longer."""
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


class ComposeFailed(AssertionError):
    """Raised when a docker-compose command exits non-zero: the stack as shipped failed."""


def operator_env(example: str, settings: Mapping[str, str]) -> str:
    """.env.example with `settings` set, as an operator edits it: a commented or set line
    of the same name becomes `NAME=value`, a name it lacks is added at the end."""
    text = example
    for name, value in settings.items():
        line = f"{name}={value}"
        pattern = re.compile(rf"^#? ?{re.escape(name)}=.*$", re.MULTILINE)
        if pattern.search(text):
            text = pattern.sub(line.replace("\\", "\\\\"), text, count=1)
        else:
            text = f"{text.rstrip()}\n{line}\n"
    return text


@contextmanager
def operator_env_file(scratch: Path, settings: Mapping[str, str]) -> Iterator[Path]:
    """The scratch env file, also put where the compose file reads it for the session."""
    text = operator_env(ENV_EXAMPLE.read_text(encoding="utf-8"), settings)
    env_file = scratch / "chunkwise.env"
    env_file.write_text(text, encoding="utf-8")
    env_file.chmod(0o600)
    if OPERATOR_ENV.exists():
        raise FileExistsError(
            f"{OPERATOR_ENV} exists (an operator's): the deploy test will not overwrite it"
        )
    OPERATOR_ENV.write_text(text, encoding="utf-8")
    try:
        yield env_file
    finally:
        OPERATOR_ENV.unlink(missing_ok=True)


@dataclass(frozen=True)
class Container:
    """One container of the project, as podman lists it."""

    id: str
    name: str
    service: str
    state: str
    """running, exited, created, ..."""
    health: str
    """healthy, unhealthy, starting, or "" without a health check."""
    exit_code: int
    hostname: str


@dataclass(frozen=True)
class Compose:
    """docker-compose for one project of deploy/docker-compose.yml."""

    project: str
    docker_host: str
    env_file: Path
    log: Path
    profiles: tuple[str, ...] = ()

    def argv(self, *args: str) -> list[str]:
        profiles = [option for name in self.profiles for option in ("--profile", name)]
        return [
            "docker-compose",
            "--file",
            str(COMPOSE_FILE),
            "--project-name",
            self.project,
            "--env-file",
            str(self.env_file),
            *profiles,
            *args,
        ]

    def run(self, *args: str, timeout_s: float = COMPOSE_TIMEOUT_S) -> str:
        """Run a docker-compose command; its output. A failure raises with its last lines."""
        return "\n".join(line for _, line in self.run_timed(*args, timeout_s=timeout_s))

    def run_timed(
        self, *args: str, timeout_s: float = COMPOSE_TIMEOUT_S
    ) -> list[tuple[float, str]]:
        """Run a docker-compose command; its output lines, each with when it came
        (time.monotonic()): compose says "Stopping <container> ..." as it asks for a stop."""
        argv = self.argv(*args)
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "DOCKER_HOST": self.docker_host,
            "COMPOSE_HTTP_TIMEOUT": HTTP_TIMEOUT_S,
        }
        lines: list[tuple[float, str]] = []
        expired = threading.Event()
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        ) as process:

            def expire() -> None:
                expired.set()
                process.kill()

            timer = threading.Timer(timeout_s, expire)
            timer.start()
            try:
                assert process.stdout is not None
                lines.extend((time.monotonic(), line.rstrip("\n")) for line in process.stdout)
            finally:
                timer.cancel()
        output = "\n".join(line for _, line in lines)
        with self.log.open("a", encoding="utf-8") as log:
            log.write(f"$ {' '.join(argv)}\n{output}\n")
        if process.returncode != 0:
            tail = "\n".join(output.splitlines()[-40:])
            how = f"took over {timeout_s:.0f} s" if expired.is_set() else "exited"
            raise ComposeFailed(
                f"docker-compose {' '.join(args)} {how} {process.returncode}:\n{tail}"
            )
        return lines

    def published_port(self, service: str, port: int) -> int:
        """The host port a service's container port is published on."""
        printed = self.run("port", service, str(port))
        found = re.findall(r":(\d+)\s*$", printed, re.MULTILINE)
        assert found, f"no published port for {service}:{port}: {printed}"
        return int(found[-1])

    def containers(self, service: str | None = None) -> list[Container]:
        """The project's containers (of one service), running or not, oldest first."""
        filters = ["--filter", f"label={PROJECT_LABEL}={self.project}"]
        if service is not None:
            filters += ["--filter", f"label={SERVICE_LABEL}={service}"]
        ids = podman("ps", "--all", "--quiet", "--no-trunc", *filters).split()
        if not ids:
            return []
        found = json.loads(podman("inspect", "--type", "container", *ids))
        containers = [_container(item) for item in found]
        return sorted(containers, key=lambda c: c.name)

    def logs(self, *services: str, tail: int = 60) -> str:
        """The last lines of the services' logs, for a failure's message."""
        try:
            return self.run("logs", "--no-color", f"--tail={tail}", *services, timeout_s=120)
        except ComposeFailed as exc:
            return f"(no logs: {exc})"


def _container(found: dict[str, object]) -> Container:
    state = found.get("State") or {}
    config = found.get("Config") or {}
    assert isinstance(state, dict) and isinstance(config, dict)
    labels = config.get("Labels") or {}
    health = state.get("Health") or state.get("Healthcheck") or {}
    return Container(
        id=str(found["Id"]),
        name=str(found.get("Name", "")).lstrip("/"),
        service=str(labels.get(SERVICE_LABEL, "")),
        state=str(state.get("Status", "")),
        health=str(health.get("Status", "")) if isinstance(health, dict) else "",
        exit_code=int(state.get("ExitCode") or 0),
        hostname=str(config.get("Hostname", "")),
    )
