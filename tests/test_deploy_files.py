"""The deployment files: the compose file validates with a compose tool, and .env.example
names every setting."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

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
