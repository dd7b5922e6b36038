"""The chunk cache: computed pieces' partials by content key, shared by every job.

Entries are added once (a racing second insert of the same key is ignored: the content
is the same) and evicted least recently used first once the cache passes its size bound.
A chunk can bring tens of thousands of entries, so every statement here takes its keys
in batches (`batching.batches`), and timestamps come from the database's clock, the one
every worker host shares.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from chunkwise.store.batching import batches
from chunkwise.store.clock import database_now, db_now
from chunkwise.store.models import CacheEntry
from chunkwise.store.writes import insert_ignoring_conflicts, rows_changed

_INSERT_COLUMNS = 4


def lookup(session: Session, *, keys: Collection[str]) -> dict[str, Any]:
    """The cached partials among `keys`."""
    found: dict[str, Any] = {}
    for batch in batches(keys):
        rows = session.execute(
            select(CacheEntry.key, CacheEntry.value).where(CacheEntry.key.in_(batch))
        )
        found.update({key: value for key, value in rows})
    return found


def remember(session: Session, *, entries: Mapping[str, Any]) -> None:
    """Add entries; keys already present keep their value."""
    if not entries:
        return
    now = database_now(session)
    rows = [{"key": k, "value": v, "created_at": now, "used_at": now} for k, v in entries.items()]
    connection = session.connection()
    # Rows go in by executemany of one statement built once: compiling a multi-row VALUES
    # of thousands of rows costs several times more than running it.
    insert = insert_ignoring_conflicts(CacheEntry, connection.dialect.name)
    for batch in batches(rows, columns=_INSERT_COLUMNS):
        connection.execute(insert, batch)


def touch(session: Session, *, keys: Collection[str]) -> None:
    """Mark entries as just used, so eviction spares them."""
    connection = session.connection()
    for batch in batches(keys):
        connection.execute(
            update(CacheEntry).where(CacheEntry.key.in_(batch)).values(used_at=db_now())
        )


def size(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CacheEntry)) or 0


def evict(session: Session, *, max_entries: int) -> int:
    """Remove the least recently used entries beyond `max_entries`; returns how many."""
    excess = size(session) - max_entries
    if excess <= 0:
        return 0
    oldest = select(CacheEntry.key).order_by(CacheEntry.used_at).limit(excess).scalar_subquery()
    result = session.connection().execute(delete(CacheEntry).where(CacheEntry.key.in_(oldest)))
    return rows_changed(result)
