"""`chunkwise db upgrade` and `chunkwise db current`: the store's schema revision."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chunkwise.cli import app
from chunkwise.config import get_settings
from chunkwise.store.schema import head_revision


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "store.db"
    monkeypatch.setenv("CHUNKWISE_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def run(*args: str) -> str:
    outcome = CliRunner().invoke(app, list(args))
    assert outcome.exit_code == 0, outcome.output
    return " ".join(outcome.output.split())


def test_db_current_then_upgrade_then_current(database: Path) -> None:
    head = head_revision()
    assert run("db", "current").startswith(f"none at sqlite:///{database}")
    assert run("db", "upgrade").endswith(f"upgraded from none to {head}")
    assert run("db", "current") == f"{head} (head) at sqlite:///{database}"
    assert run("db", "upgrade").endswith(f"is at revision {head}, this release's newest")
