"""Worker liveness: each worker process writes a heartbeat row; silence means gone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from chunkwise.store.models import Worker, utcnow


def heartbeat(session: Session, *, name: str) -> None:
    """Say that worker `name` is alive now, adding its row on first call."""
    now = utcnow()
    result = session.execute(update(Worker).where(Worker.name == name).values(heartbeat_at=now))
    if not getattr(result, "rowcount", 0):
        session.add(Worker(name=name, started_at=now, heartbeat_at=now))


def remove_worker(session: Session, *, name: str) -> None:
    session.execute(delete(Worker).where(Worker.name == name))


def live_workers(session: Session, *, ttl_s: float) -> list[str]:
    """Names of workers heard from within the last `ttl_s` seconds."""
    since = utcnow() - timedelta(seconds=ttl_s)
    query = select(Worker.name).where(Worker.heartbeat_at >= since).order_by(Worker.name)
    return list(session.scalars(query))


def count_live_workers(session: Session, *, ttl_s: float) -> int:
    since = utcnow() - timedelta(seconds=ttl_s)
    query = select(func.count()).select_from(Worker).where(Worker.heartbeat_at >= since)
    return session.scalar(query) or 0
