"""The chunk cache: computed pieces' partials by content key, shared by every job.

Entries are added once (a racing second insert of the same key is ignored: the content
is the same) and evicted least recently used first once the cache passes its size bound.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from chunkwise.store.models import CacheEntry, utcnow

LOOKUP_BATCH = 500
"""Keys per query: well inside every backend's limit on bound parameters."""


def lookup(session: Session, *, keys: Collection[str]) -> dict[str, Any]:
    """The cached partials among `keys`."""
    ordered = list(keys)
    found: dict[str, Any] = {}
    for start in range(0, len(ordered), LOOKUP_BATCH):
        batch = ordered[start : start + LOOKUP_BATCH]
        rows = session.execute(
            select(CacheEntry.key, CacheEntry.value).where(CacheEntry.key.in_(batch))
        )
        found.update({key: value for key, value in rows})
    return found


def remember(session: Session, *, entries: Mapping[str, Any]) -> None:
    """Add entries; keys already present keep their value."""
    if not entries:
        return
    now = utcnow()
    rows = [{"key": k, "value": v, "created_at": now, "used_at": now} for k, v in entries.items()]
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(CacheEntry).values(rows).on_conflict_do_nothing())


def touch(session: Session, *, keys: Collection[str]) -> None:
    """Mark entries as just used, so eviction spares them."""
    ordered = list(keys)
    now = utcnow()
    for start in range(0, len(ordered), LOOKUP_BATCH):
        batch = ordered[start : start + LOOKUP_BATCH]
        session.connection().execute(
            update(CacheEntry).where(CacheEntry.key.in_(batch)).values(used_at=now)
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
    return int(getattr(result, "rowcount", 0) or 0)
