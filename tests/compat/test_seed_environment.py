"""The seeds' other environment names: REDIS_URL, CELERY_WORKER_CONCURRENCY,
FLOWER_BASIC_AUTH and LOG_LEVEL are read where they mean a chunkwise setting, and the
CHUNKWISE_ names (and CELERY_BROKER_URL, the broker's own name) win over them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chunkwise import cli
from chunkwise.config import Settings, get_settings

NAMES = (
    "CHUNKWISE_BROKER_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "CHUNKWISE_WORKER_CONCURRENCY",
    "CELERY_WORKER_CONCURRENCY",
    "CHUNKWISE_FLOWER_BASIC_AUTH",
    "FLOWER_BASIC_AUTH",
    "CHUNKWISE_LOG_LEVEL",
    "LOG_LEVEL",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    # `api` and `worker` reach the store before they start: one of this test's own.
    monkeypatch.setenv("CHUNKWISE_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_the_seed_names_are_read(env: pytest.MonkeyPatch) -> None:
    env.setenv("REDIS_URL", "redis://redis:6379/0")
    env.setenv("CELERY_WORKER_CONCURRENCY", "2")
    env.setenv("FLOWER_BASIC_AUTH", "admin:secret123")
    env.setenv("LOG_LEVEL", "info")
    settings = Settings()
    assert settings.broker_url == "redis://redis:6379/0"
    assert settings.worker_concurrency == 2
    assert settings.flower_basic_auth == "admin:secret123"
    assert settings.log_level == "info"
    env.setenv("LOG_LEVEL", "WARN")  # logging's other spelling
    assert Settings().log_level == "warning"


def test_the_chunkwise_names_and_the_broker_s_own_win(env: pytest.MonkeyPatch) -> None:
    env.setenv("REDIS_URL", "redis://redis:6379/0")
    env.setenv("CELERY_BROKER_URL", "redis://broker:6379/1")
    env.setenv("LOG_LEVEL", "debug")
    env.setenv("CHUNKWISE_LOG_LEVEL", "error")
    env.setenv("CELERY_WORKER_CONCURRENCY", "2")
    env.setenv("CHUNKWISE_WORKER_CONCURRENCY", "3")
    settings = Settings()
    assert settings.broker_url == "redis://broker:6379/1"
    assert (settings.log_level, settings.worker_concurrency) == ("error", 3)
    env.setenv("CHUNKWISE_BROKER_URL", "redis://chunkwise:6379/2")
    assert Settings().broker_url == "redis://chunkwise:6379/2"


def test_the_worker_takes_its_pool_and_log_level_from_them(
    env: pytest.MonkeyPatch,
) -> None:
    ran: dict[str, Any] = {}

    def run_worker(
        settings: Settings, *, concurrency: int, name: str | None, loglevel: str
    ) -> None:
        ran.update(concurrency=concurrency, loglevel=loglevel)

    env.setattr("chunkwise.worker.run_worker", run_worker)
    env.setenv("REDIS_URL", "redis://redis:6379/0")
    env.setenv("CELERY_WORKER_CONCURRENCY", "3")
    env.setenv("LOG_LEVEL", "warning")
    done = CliRunner().invoke(cli.app, ["worker"])
    assert done.exit_code == 0, done.output
    assert ran == {"concurrency": 3, "loglevel": "WARNING"}
    get_settings.cache_clear()
    done = CliRunner().invoke(cli.app, ["worker", "--concurrency", "1", "--loglevel", "DEBUG"])
    assert ran == {"concurrency": 1, "loglevel": "DEBUG"}  # the options win


def test_the_api_takes_its_log_level_from_log_level(env: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}
    env.setattr("uvicorn.run", lambda app, **options: served.update(options))
    env.setattr("chunkwise.api.create_app", lambda settings: object())
    env.setenv("REDIS_URL", "redis://redis:6379/0")
    env.setenv("LOG_LEVEL", "ERROR")
    done = CliRunner().invoke(cli.app, ["api"])
    assert done.exit_code == 0, done.output
    assert served["log_level"] == "error"
