"""A store made before a column or index was declared gains it when the schema is created."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from chunkwise.store import Store


def test_an_older_chunks_table_gains_started_at_and_the_finished_at_index(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = Store(url)
    store.create_schema()
    store.dispose()
    old = create_engine(url)
    with old.begin() as connection:
        connection.execute(text("DROP INDEX ix_chunks_finished_at"))
        connection.execute(text("ALTER TABLE chunks DROP COLUMN started_at"))
        connection.execute(text("ALTER TABLE chunks DROP COLUMN attempts"))
    assert "started_at" not in {c["name"] for c in inspect(old).get_columns("chunks")}

    upgraded = Store(url)
    upgraded.create_schema()
    upgraded.dispose()

    inspector = inspect(old)
    columns = {c["name"]: c for c in inspector.get_columns("chunks")}
    assert {"started_at", "attempts"} <= set(columns)
    assert columns["attempts"]["default"] == "0"
    assert "ix_chunks_finished_at" in {i["name"] for i in inspector.get_indexes("chunks")}
    old.dispose()
