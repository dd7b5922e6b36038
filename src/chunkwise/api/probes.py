"""Cheap checks that the broker and the store answer, for health reporting."""

from __future__ import annotations

from celery import Celery
from sqlalchemy import text

from chunkwise.errors import StoreUnavailableError
from chunkwise.store import Store
from chunkwise.store import workers as worker_rows

BROKER_PROBE_TIMEOUT_S = 1.0


def broker_answers(app: Celery, *, timeout_s: float = BROKER_PROBE_TIMEOUT_S) -> bool:
    """True when a connection to the broker can be made within `timeout_s`."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout_s)
            return True
    except Exception:
        return False


def store_answers(store: Store) -> bool:
    try:
        with store.reader() as session:
            session.execute(text("SELECT 1"))
        return True
    except (StoreUnavailableError, OSError):
        return False


def live_capacity(store: Store, *, ttl_s: float) -> tuple[int, int]:
    """Live worker nodes and their pool processes."""
    with store.reader() as session:
        return worker_rows.live_capacity(session, ttl_s=ttl_s)
