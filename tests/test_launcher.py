"""`chunkwise up` tells where its parts are without telling their passwords, and a system
that cannot start says why instead of waiting for ever."""

from __future__ import annotations

import pytest

from chunkwise.launcher import (
    SystemDidNotStart,
    announcement,
    free_port,
    masked_url,
    wait_until_healthy,
)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@broker.example:6379/0", "redis://:***@broker.example:6379/0"),
        (
            "postgresql+psycopg://bob:s3cret@db.example:5432/chunkwise?sslmode=require",
            "postgresql+psycopg://bob:***@db.example:5432/chunkwise?sslmode=require",
        ),
        ("amqp://guest:s3cret@localhost:5672//", "amqp://guest:***@localhost:5672//"),
        ("postgresql://bob:s3c@ret@db/chunkwise", "postgresql://bob:***@db/chunkwise"),
        ("redis://bob@broker.example/0", "redis://bob@broker.example/0"),
        ("sqlite:////var/lib/chunkwise/chunkwise.db", "sqlite:////var/lib/chunkwise/chunkwise.db"),
    ],
)
def test_masked_url_hides_only_the_password(url: str, shown: str) -> None:
    assert masked_url(url) == shown


@pytest.mark.parametrize(
    ("nodes", "processes", "workers"),
    [(1, 3, "1 worker node of 3 process(es)"), (2, 1, "2 worker nodes of 1 process(es) each")],
)
def test_the_announcement_counts_the_workers_and_shows_no_password(
    nodes: int, processes: int, workers: str
) -> None:
    text = announcement(
        "http://127.0.0.1:8000",
        broker_url="redis://:broker-s3cret@broker.example:6379/0",
        database_url="postgresql+psycopg://bob:store-s3cret@db.example/chunkwise",
        nodes=nodes,
        processes=processes,
    )
    assert "s3cret" not in text
    assert "redis://:***@broker.example:6379/0" in text
    assert "postgresql+psycopg://bob:***@db.example/chunkwise" in text
    assert f"  {workers} · broker" in text


def test_a_child_that_exits_while_starting_is_named_at_once() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SystemDidNotStart, match="worker@here exited while the system was starting"):
        wait_until_healthy(
            nowhere, lambda health: True, what="the API", timeout_s=60, exited=lambda: "worker@here"
        )


def test_a_system_not_ready_in_time_says_what_it_waited_for() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SystemDidNotStart, match="waiting for two workers; /health said None"):
        wait_until_healthy(nowhere, lambda health: True, what="two workers", timeout_s=0)
