"""Worker liveness and chunk leases: each worker process writes a heartbeat row naming
the chunks it holds; silence past the TTL means the worker is gone and its chunks are
free to be delivered again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from chunkwise.store.models import Worker, utcnow


@dataclass(frozen=True)
class DeadWorker:
    name: str
    holding: list[str]


def heartbeat(session: Session, *, name: str, holding: Sequence[str] = ()) -> None:
    """Say that worker `name` is alive now and holds `holding`, adding its row if needed."""
    now = utcnow()
    result = session.connection().execute(
        update(Worker).where(Worker.name == name).values(heartbeat_at=now, holding=list(holding))
    )
    if not getattr(result, "rowcount", 0):
        session.add(Worker(name=name, started_at=now, heartbeat_at=now, holding=list(holding)))


def remove_worker(session: Session, *, name: str) -> None:
    session.connection().execute(delete(Worker).where(Worker.name == name))


def claim_dead_workers(session: Session, *, ttl_s: float) -> list[DeadWorker]:
    """Remove the rows of workers silent for over `ttl_s` and return what they held.

    A row is removed by exactly one claimer, so each dead worker's chunks are taken over
    once, however many live workers look at the same moment.
    """
    since = utcnow() - timedelta(seconds=ttl_s)
    rows = (
        session.connection()
        .execute(
            delete(Worker).where(Worker.heartbeat_at < since).returning(Worker.name, Worker.holding)
        )
        .all()
    )
    return [DeadWorker(name, list(holding or [])) for name, holding in rows]


def live_workers(session: Session, *, ttl_s: float) -> list[str]:
    """Names of workers heard from within the last `ttl_s` seconds."""
    since = utcnow() - timedelta(seconds=ttl_s)
    query = select(Worker.name).where(Worker.heartbeat_at >= since).order_by(Worker.name)
    return list(session.scalars(query))


def held_chunks(session: Session, *, ttl_s: float) -> dict[str, list[str]]:
    """What each live worker holds, by worker name."""
    since = utcnow() - timedelta(seconds=ttl_s)
    rows = session.execute(select(Worker.name, Worker.holding).where(Worker.heartbeat_at >= since))
    return {name: list(holding or []) for name, holding in rows}


def count_live_workers(session: Session, *, ttl_s: float) -> int:
    since = utcnow() - timedelta(seconds=ttl_s)
    query = select(func.count()).select_from(Worker).where(Worker.heartbeat_at >= since)
    return session.scalar(query) or 0
