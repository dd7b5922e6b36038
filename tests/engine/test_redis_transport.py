"""The Redis transport builds its command client once per channel, not once per message,
and still moves messages as kombu's own does. Real Valkey (embedded)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chunkwise.config import Settings
from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.engine.celery_app import create_celery
from chunkwise.engine.redis_transport import Channel, Transport

pytestmark = pytest.mark.integration


@pytest.fixture
def broker_url(tmp_path: Path) -> Iterator[str]:
    with EmbeddedBroker(tmp_path / "broker") as broker:
        yield broker.url


def test_a_redis_broker_uses_the_transport(broker_url: str) -> None:
    app = create_celery(Settings(broker_url=broker_url))
    with app.connection_for_write() as connection:
        assert isinstance(connection.transport, Transport)
        assert isinstance(connection.default_channel, Channel)


def test_messages_move_with_one_command_client_per_channel(
    broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = []
    create_client: Callable[..., Any] = Channel._create_client

    def counting(self: Channel, *args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return create_client(self, *args, **kwargs)

    monkeypatch.setattr(Channel, "_create_client", counting)
    app = create_celery(Settings(broker_url=broker_url))
    with app.connection_for_write() as connection:
        queue = connection.SimpleQueue("transport-test")
        for number in range(20):
            queue.put({"n": number})
        received = []
        for _ in range(20):
            message = queue.get(timeout=5)
            received.append(message.payload["n"])
            message.ack()
        queue.close()
    assert received == list(range(20))
    assert len(built) <= 2  # kombu's own channel builds one per put, get and ack
