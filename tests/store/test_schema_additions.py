"""A store made before schema revisions existed gains what it lacks and is stamped head."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from chunkwise.store import Store
from chunkwise.store.schema import REVISION_TABLE, head_revision


def test_a_store_from_before_revisions_gains_its_columns_and_indexes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = Store(url)
    store.upgrade_schema()
    store.dispose()
    old = create_engine(url)
    with old.begin() as connection:
        connection.execute(text(f"DROP TABLE {REVISION_TABLE}"))
        connection.execute(text("DROP INDEX ix_chunks_finished_at"))
        connection.execute(text("ALTER TABLE chunks DROP COLUMN started_at"))
        connection.execute(text("ALTER TABLE chunks DROP COLUMN attempts"))
    assert "started_at" not in {c["name"] for c in inspect(old).get_columns("chunks")}

    upgraded = Store(url)
    change = upgraded.upgrade_schema()
    assert (change.before, change.after) == (None, head_revision())
    assert upgraded.schema_revision() == head_revision()
    upgraded.dispose()

    inspector = inspect(old)
    columns = {c["name"]: c for c in inspector.get_columns("chunks")}
    assert {"started_at", "attempts"} <= set(columns)
    assert columns["attempts"]["default"] == "0"
    assert "ix_chunks_finished_at" in {i["name"] for i in inspector.get_indexes("chunks")}
    old.dispose()
