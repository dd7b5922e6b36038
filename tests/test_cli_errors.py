"""The `chunkwise` command's errors: on stderr, so a command's answer redirected to a
file stays the answer; one exit code per kind of failure (usage, not found, refused,
unreachable); a store that cannot be reached is one line naming the setting, with the
traceback behind `--debug`; and `--version`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from chunkwise import __version__, cli
from chunkwise.client import Client
from chunkwise.config import get_settings
from chunkwise.launcher import chunkwise_argv
from tests.client.fake_api import BASE_URL, JOB_ID, job_view

Answer = Callable[[httpx.Request], httpx.Response]
UNREACHABLE_STORE = "postgresql+psycopg://bob:s3cret@127.0.0.1:1/chunkwise"
"""Nothing listens on port 1: the connection is refused at once."""


@pytest.fixture
def answering(monkeypatch: pytest.MonkeyPatch) -> Callable[[Answer], None]:
    """`answering(handler)`: the CLI's client talks to `handler` instead of an API."""

    def use(handler: Answer) -> None:
        def client(base_url: str | None = None, token: str | None = None) -> Client:
            return Client(BASE_URL, token="", transport=httpx.MockTransport(handler))

        monkeypatch.setattr(cli, "Client", client)

    return use


@pytest.fixture
def unreachable_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CHUNKWISE_DATABASE_URL", UNREACHABLE_STORE)
    monkeypatch.setenv("CHUNKWISE_BROKER_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(*args: str) -> Result:
    return CliRunner().invoke(cli.app, list(args))


def answer(status: int, body: object) -> Answer:
    return lambda request: httpx.Response(status, json=body)


def test_a_status_goes_to_stdout_alone(answering: Callable[[Answer], None]) -> None:
    answering(answer(200, job_view()))

    done = run("status", JOB_ID)

    assert done.exit_code == 0
    assert json.loads(done.stdout)["job_id"] == JOB_ID
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("args", "status", "code"),
    [
        (("status", JOB_ID), 404, cli.EXIT_NOT_FOUND),
        (("cancel", JOB_ID), 409, cli.EXIT_REFUSED),
        (("submit", "prime_count", "--n", "9"), 400, cli.EXIT_REFUSED),
        (("status", JOB_ID), 401, cli.EXIT_REFUSED),
        (("submit", "sum_range", "--n", "9"), 429, cli.EXIT_REFUSED),
        (("status", JOB_ID), 503, cli.EXIT_UNREACHABLE),
        (("status", JOB_ID), 500, cli.EXIT_UNREACHABLE),
    ],
)
def test_an_api_error_goes_to_stderr_with_its_exit_code(
    answering: Callable[[Answer], None], args: tuple[str, ...], status: int, code: int
) -> None:
    answering(answer(status, {"detail": "the API's message", "field": None}))

    done = run(*args)

    assert done.exit_code == code
    assert done.stdout == ""
    assert f"error {status}: the API's message" in done.stderr


def test_an_api_that_does_not_answer_is_unreachable(
    answering: Callable[[Answer], None],
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    answering(refuse)

    done = run("status", JOB_ID)

    assert done.exit_code == cli.EXIT_UNREACHABLE
    assert done.stdout == ""
    assert "cannot reach the API" in done.stderr


def test_usage_errors_keep_typers_code() -> None:
    done = run("status")

    assert done.exit_code == cli.EXIT_USAGE == 2
    assert done.stdout == ""


def test_the_help_documents_the_exit_codes() -> None:
    done = run("--help")

    text = " ".join(done.stdout.replace("│", " ").split())
    assert "Exit codes: 0 done" in text
    assert "3 not found (404)" in text and "5 unreachable" in text


def test_version() -> None:
    done = run("--version")

    assert done.exit_code == 0
    assert done.stdout.strip() == f"chunkwise {__version__}"


@pytest.mark.usefixtures("unreachable_store")
@pytest.mark.parametrize("command", [("db", "upgrade"), ("db", "current"), ("api",), ("worker",)])
def test_a_store_that_cannot_be_reached_is_one_line_naming_the_setting(
    command: tuple[str, ...],
) -> None:
    done = run(*command)

    assert done.exit_code == cli.EXIT_UNREACHABLE
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: the job store does not answer (")
    assert "Connection refused" in line
    assert "CHUNKWISE_DATABASE_URL" in line
    assert "postgresql+psycopg://bob:***@127.0.0.1:1/chunkwise" in line
    assert "s3cret" not in line


@pytest.mark.usefixtures("unreachable_store")
def test_debug_shows_the_traceback_instead() -> None:
    done = run("--debug", "db", "upgrade")

    assert done.exit_code == 1
    assert type(done.exception).__name__ == "StoreUnavailableError"


@pytest.mark.integration
@pytest.mark.parametrize("command", [("db", "upgrade"), ("api",), ("worker",)])
def test_the_real_command_prints_one_line_not_a_traceback(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CHUNKWISE_DATA_DIR": str(tmp_path / "data"),
        "CHUNKWISE_DATABASE_URL": UNREACHABLE_STORE,
        "CHUNKWISE_BROKER_URL": "redis://127.0.0.1:1/0",
    }

    done = subprocess.run(
        chunkwise_argv(*command), env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == cli.EXIT_UNREACHABLE
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "CHUNKWISE_DATABASE_URL" in done.stderr and "s3cret" not in done.stderr
    debugged = subprocess.run(
        chunkwise_argv("--debug", *command), env=env, capture_output=True, text=True, timeout=60
    )
    assert debugged.returncode != 0
    assert "Traceback" in debugged.stderr
