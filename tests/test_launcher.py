"""`chunkwise up` tells where its parts are without telling their passwords."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from chunkwise.config import Settings
from chunkwise.launcher import LocalSystem, masked_url


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


def test_the_announcement_shows_no_password(tmp_path: Path) -> None:
    out = io.StringIO()
    system = LocalSystem(
        Settings(data_dir=tmp_path), workers=3, console=Console(file=out, width=400)
    )
    system._announce(
        "redis://:broker-s3cret@broker.example:6379/0",
        "postgresql+psycopg://bob:store-s3cret@db.example/chunkwise",
    )
    text = out.getvalue()
    assert "s3cret" not in text
    assert "redis://:***@broker.example:6379/0" in text
    assert "postgresql+psycopg://bob:***@db.example/chunkwise" in text
    assert "1 worker node of 3 process(es)" in text
