"""Keys a deployment makes for itself once and keeps in the store, for a setting left
empty: the access-token signing key and the webhook signing key.

In the store, not in a data dir: API replicas and workers on other machines (or in other
containers) each have their own data dir, and a login signed by one replica was refused
by the others. The first process to ask makes the key; an INSERT that ignores a conflict
makes processes starting at once agree on the first one written.

An install that kept the key in its data dir before (the file `name` there) brings that
key in, so its sessions and webhook receivers keep working across the upgrade.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from chunkwise.store.db import Store
from chunkwise.store.models import KeptSecret, utcnow
from chunkwise.store.writes import connection_of, insert_ignoring_conflicts

ACCESS_TOKEN_KEY = "jwt_secret"
"""Signs access tokens, unless CHUNKWISE_JWT_SECRET is set."""
WEBHOOK_KEY = "webhook_secret"
"""Signs webhook bodies, unless CHUNKWISE_WEBHOOK_SECRET is set."""
KEY_BYTES = 48
"""Random bytes in a key made here (64 URL-safe characters)."""


def kept_secret(session: Session, *, name: str, legacy_file: Path | None = None) -> str:
    """The key named `name`, made (or brought in from `legacy_file`) on first use."""
    kept = _read(session, name)
    if kept is not None:
        return kept
    value = _legacy(legacy_file) or secrets.token_urlsafe(KEY_BYTES)
    connection = connection_of(session)
    insert = insert_ignoring_conflicts(KeptSecret, connection.dialect.name)
    connection.execute(insert, [{"name": name, "value": value, "created_at": utcnow()}])
    kept = _read(session, name)
    assert kept is not None, "a kept secret vanished between its insert and its read"
    return kept


def _read(session: Session, name: str) -> str | None:
    return session.scalar(select(KeptSecret.value).where(KeptSecret.name == name))


def _legacy(path: Path | None) -> str | None:
    try:
        return path.read_text().strip() or None if path is not None else None
    except OSError:
        return None


def setting_or_kept(store: Store, *, given: str, name: str, legacy_dir: Path) -> str:
    """`given` (the operator's setting) when set, else the store's key `name`."""
    if given:
        return given
    with store.writer() as session:
        return kept_secret(session, name=name, legacy_file=legacy_dir / name)
