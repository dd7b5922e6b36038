"""Celery on kombu's in-memory transport: the chunk messages a unit test publishes stay in
this process, where the test takes them back off the queue and reads them.

The transport keeps its queues per process, shared by every app on `memory://`; the
`memory_celery` fixture (tests/conftest.py) empties the chunk queue around each test.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from celery import Celery

from chunkwise.config import Settings
from chunkwise.engine.celery_app import CHUNK_QUEUE, create_celery


@dataclass(frozen=True)
class Published:
    """One chunk message as a worker would receive it."""

    task: str
    task_id: str
    job_id: uuid.UUID
    index: int


def memory_celery_app() -> Celery:
    return create_celery(Settings(broker_url="memory://"))


def take_published(app: Celery) -> list[Published]:
    """The chunk messages waiting in the queue, oldest first, taken off it."""
    taken = []
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        while (message := channel.basic_get(CHUNK_QUEUE, no_ack=True)) is not None:
            (job_id, index), _, _ = message.decode()
            headers = message.headers
            taken.append(Published(headers["task"], headers["id"], uuid.UUID(job_id), index))
    return taken


def empty_queue(app: Celery) -> None:
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(CHUNK_QUEUE)
