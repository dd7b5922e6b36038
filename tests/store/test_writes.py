"""The store's write helpers behave alike on every backend."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chunkwise.store import Store
from chunkwise.store.models import CacheEntry, utcnow
from chunkwise.store.writes import insert_ignoring_conflicts, rows_changed


def add_entries(session: Session, values: dict[str, Any]) -> None:
    now = utcnow()
    insert = insert_ignoring_conflicts(CacheEntry, session.get_bind().dialect.name)
    rows = [{"key": k, "value": v, "created_at": now, "used_at": now} for k, v in values.items()]
    session.connection().execute(insert, rows)


def test_an_insert_ignoring_conflicts_keeps_the_first_row(store: Store) -> None:
    with store.writer() as session:
        add_entries(session, {"k": 1})
    with store.writer() as session:
        add_entries(session, {"k": 2, "new": 3})
    with store.reader() as session:
        rows = session.execute(select(CacheEntry.key, CacheEntry.value).order_by(CacheEntry.key))
        assert [tuple(row) for row in rows] == [("k", 1), ("new", 3)]


def test_rows_changed_counts_the_rows_a_statement_matched(store: Store) -> None:
    with store.writer() as session:
        add_entries(session, dict.fromkeys("abc", 0))
    with store.writer() as session:
        touched = session.execute(update(CacheEntry).where(CacheEntry.key < "c").values(value=1))
        untouched = session.connection().execute(
            update(CacheEntry).where(CacheEntry.key == "z").values(value=1)
        )
        assert (rows_changed(touched), rows_changed(untouched)) == (2, 0)


def test_an_insert_ignoring_conflicts_names_the_backends_it_has() -> None:
    with pytest.raises(ValueError, match="SQLite or PostgreSQL"):
        insert_ignoring_conflicts(CacheEntry, "mysql")
