"""An API built by `create_app(settings)` and served over real HTTP in a thread of the test,
in front of a real broker and a SQLite store of its own, and no workers: jobs stay queued.
Or, where the test needs the real command, `chunkwise api` alone in a process of its own."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from chunkwise.api import create_app
from chunkwise.config import Settings
from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.launcher import api_answers, api_argv, free_port
from chunkwise.store import Store
from chunkwise.supervisor import ProcessGroup
from tests.waiting import wait_for


@dataclass
class ServedApi:
    http: httpx.Client
    store: Store
    settings: Settings


ServeApi = Callable[..., AbstractContextManager[ServedApi]]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(tmp_path_factory.mktemp("broker"), appendonly=False) as broker:
        yield broker


@pytest.fixture
def serve_api(broker: EmbeddedBroker, tmp_path: Path) -> ServeApi:
    """`with serve_api(**settings) as api:` an API with those settings, on 127.0.0.1."""

    @contextmanager
    def serve(**overrides: Any) -> Iterator[ServedApi]:
        fields: dict[str, Any] = {
            "data_dir": tmp_path,
            "broker_url": broker.url,
            "database_url": f"sqlite:///{tmp_path / 'store.db'}",
            "api_port": free_port(),
        }
        settings = Settings(**(fields | overrides))
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings),
                host="127.0.0.1",
                port=settings.api_port,
                log_level="warning",
                ws="none",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        store = Store(settings.resolved_database_url)
        try:
            wait_for(lambda: server.started, timeout_s=30, what="the API to start")
            with httpx.Client(base_url=f"http://127.0.0.1:{settings.api_port}") as http:
                yield ServedApi(http, store, settings)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            store.dispose()

    return serve


@contextmanager
def api_process(
    settings: Settings, extra_env: Mapping[str, str] | None = None
) -> Iterator[httpx.Client]:
    """`chunkwise api` alone in its own process, on the settings' host and port, with their
    broker and store, and `extra_env` (other settings, as CHUNKWISE_* variables); yields a
    client of it once it answers."""
    env = {
        **os.environ,
        "CHUNKWISE_BROKER_URL": settings.broker_url,
        "CHUNKWISE_DATABASE_URL": settings.resolved_database_url,
        **(extra_env or {}),
    }
    base_url = settings.resolved_api_url
    with ProcessGroup() as group, httpx.Client(base_url=base_url, timeout=10) as http:
        group.spawn("api", api_argv(settings, "warning"), env)
        wait_for(lambda: api_answers(base_url), timeout_s=30, what="the API to start")
        yield http


def accounts_on(
    broker: EmbeddedBroker, root: Path, **settings: str
) -> tuple[Settings, dict[str, str]]:
    """Settings and environment for `api_process`: accounts on, a store in `root`, and
    sign-in and registration limits out of the way unless `settings` (CHUNKWISE_* names)
    say otherwise."""
    given = Settings(
        data_dir=root,
        broker_url=broker.url,
        database_url=f"sqlite:///{root / 'store.db'}",
        api_port=free_port(),
    )
    env = {
        "CHUNKWISE_DATA_DIR": str(root),
        "CHUNKWISE_DATABASE_URL": given.resolved_database_url,
        "CHUNKWISE_AUTH_ENABLED": "true",
        "CHUNKWISE_REGISTER_RATE_LIMIT": "1000/minute",
        "CHUNKWISE_LOGIN_IP_RATE_LIMIT": "1000/minute",
        **settings,
    }
    return given, env
