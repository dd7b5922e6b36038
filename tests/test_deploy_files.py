"""The deployment files: the compose file validates with a compose tool, and .env.example
names every setting."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from chunkwise.config import Settings
from chunkwise.workloads import declared_limits

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def compose_command() -> list[str] | None:
    """`docker compose` where the plugin exists, else Debian's `docker-compose`."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.mark.integration
def test_the_compose_file_validates() -> None:
    command = compose_command()
    if command is None:
        pytest.skip("no compose tool (make test installs Debian's docker-compose where apt can)")
    env_file = DEPLOY / ".env"  # what the compose file reads, as a user would make it
    made = not env_file.exists()
    if made:
        env_file.write_text((DEPLOY / ".env.example").read_text())
    try:
        checked = subprocess.run(
            [*command, "-f", str(DEPLOY / "docker-compose.yml"), "config", "--quiet"],
            capture_output=True,
            text=True,
            timeout=120,
            env={
                "POSTGRES_PASSWORD": "example",
                "CHUNKWISE_ALLOWED_HOSTS": "chunkwise.example.com",
                "PATH": "/usr/bin:/bin:/usr/local/bin",
            },
        )
    finally:
        if made:
            env_file.unlink()
    assert checked.returncode == 0, checked.stderr


def test_env_example_names_every_setting() -> None:
    text = (DEPLOY / ".env.example").read_text()
    names = [f"CHUNKWISE_{name.upper()}" for name in Settings.model_fields]
    names = [
        "CHUNKWISE_WORKLOAD_LIMITS" if n == "CHUNKWISE_WORKLOAD_LIMIT_OVERRIDES" else n
        for n in names
    ]
    names += [f"CHUNKWISE_{name.upper()}" for name in declared_limits()]
    missing = [name for name in names if f"# {name}=" not in text]
    assert not missing, f"deploy/.env.example lacks {missing}"


def compose_file() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return loaded


def test_flower_listens_on_every_address_and_runs_only_when_asked() -> None:
    flower = compose_file()["services"]["flower"]
    command = flower["command"]
    assert command[command.index("--address") + 1] == "0.0.0.0"
    assert flower["profiles"] == ["flower"]  # without credentials it would only exit
    assert flower["restart"] != "unless-stopped"


def test_workers_get_longer_to_stop_than_their_drain() -> None:
    grace = compose_file()["services"]["worker"]["stop_grace_period"]
    drain_s = Settings.model_fields["worker_drain_s"].default
    assert int(grace.removesuffix("s")) >= drain_s + 10


def test_health_checks_are_readiness_by_address_in_the_shell_form() -> None:
    # The shell form: podman's Docker API splits an exec form's arguments on spaces.
    services = compose_file()["services"]
    assert services["api"]["healthcheck"]["test"] == [
        "CMD-SHELL",
        "python -m chunkwise.probe ready",
    ]
    assert services["worker"]["healthcheck"]["test"][0] == "CMD-SHELL"
    assert "CHUNKWISE_ALLOWED_HOSTS" in compose_file()["x-chunkwise"]["environment"]


def test_nginx_looks_the_replicas_up_again_and_keeps_metrics_inside() -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    assert re.search(r"^\s*resolver \$\{NGINX_LOCAL_RESOLVERS\} valid=\d+s", conf, re.M)
    targets = re.findall(r"proxy_pass (\S+);", conf)
    assert targets and all(target == "http://$chunkwise_api" for target in targets)
    assert re.search(r"location = /metrics \{\s*return 404;", conf)
    nginx = compose_file()["services"]["nginx"]
    assert nginx["volumes"] == ["./nginx.conf:/etc/nginx/templates/nginx.conf.template:ro"]
    assert nginx["environment"]["NGINX_ENVSUBST_OUTPUT_DIR"] == "/etc/nginx"


def test_the_image_installs_dependencies_before_the_source() -> None:
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    steps = [line for line in lines if line and not line.startswith(("#", " "))]

    def first(prefix: str) -> int:
        return next(i for i, step in enumerate(steps) if step.startswith(prefix))

    assert first("COPY pyproject.toml") < first("RUN mkdir -p src/chunkwise") < first("COPY src")
    base = next(line for line in lines if line.startswith("ARG PYTHON_IMAGE="))
    assert re.fullmatch(r"ARG PYTHON_IMAGE=python:\d+\.\d+\.\d+-slim-\w+(@sha256:\w+)?", base)
    assert any(step.startswith("HEALTHCHECK") for step in steps)
    ignored = (DEPLOY.parent / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") + 1 :][:4] == [
        "!pyproject.toml",
        "!README.md",
        "!LICENSE",
        "!src/",
    ]


def test_every_required_dependency_is_imported() -> None:
    pyproject = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())
    source = "\n".join(path.read_text() for path in (DEPLOY.parent / "src").rglob("*.py"))
    import_names = {
        "pyjwt": "jwt",
        "python-multipart": "multipart",
        "pydantic-settings": "pydantic_settings",
        "prometheus-client": "prometheus_client",
    }
    unused = []
    for requirement in pyproject["project"]["dependencies"]:
        name = re.split(r"[\[<>=]", requirement)[0].lower()
        module = import_names.get(name, name.replace("-", "_"))
        if name == "python-multipart":  # starlette loads it to read forms
            continue
        if not re.search(rf"^\s*(import|from) {module}\b", source, re.M):
            unused.append(name)
    assert not unused, f"declared and never imported: {unused}"
