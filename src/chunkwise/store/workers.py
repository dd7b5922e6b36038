"""Worker liveness and chunk leases: each worker process writes a heartbeat row naming
the chunks it holds and the workload kinds it runs; silence past the TTL means the worker
is gone and its chunks are free to be delivered again.

Every timestamp here is the database's (`clock.db_now`), both when written and when
compared: the workers of a deployment run on hosts whose clocks disagree, and a lease is
only as good as the one clock its holder and its reapers share.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from chunkwise.store.clock import db_now
from chunkwise.store.models import Worker
from chunkwise.store.writes import rows_changed


@dataclass(frozen=True)
class DeadWorker:
    name: str
    holding: list[str]


def heartbeat(
    session: Session,
    *,
    name: str,
    holding: Sequence[str] = (),
    processes: int = 1,
    kinds: Sequence[str] | None = None,
) -> None:
    """Say that worker `name` (`processes` computing, running the workload `kinds`) is
    alive now and holds `holding`, adding its row if needed. Kinds None: not said."""
    connection = session.connection()
    said = {
        "heartbeat_at": db_now(),
        "holding": list(holding),
        "processes": processes,
        "kinds": None if kinds is None else list(kinds),
    }
    result = connection.execute(update(Worker).where(Worker.name == name).values(said))
    if not rows_changed(result):
        connection.execute(insert(Worker).values(name=name, started_at=db_now(), **said))


def remove_worker(session: Session, *, name: str) -> None:
    session.connection().execute(delete(Worker).where(Worker.name == name))


def claim_dead_workers(session: Session, *, ttl_s: float) -> list[DeadWorker]:
    """Remove the rows of workers silent for over `ttl_s` and return what they held.

    A row is removed by exactly one claimer, so each dead worker's chunks are taken over
    once, however many live workers look at the same moment.
    """
    rows = (
        session.connection()
        .execute(
            delete(Worker)
            .where(Worker.heartbeat_at < db_now(-ttl_s))
            .returning(Worker.name, Worker.holding)
        )
        .all()
    )
    return [DeadWorker(name, list(holding or [])) for name, holding in rows]


def live_workers(session: Session, *, ttl_s: float) -> list[str]:
    """Names of workers heard from within the last `ttl_s` seconds."""
    query = select(Worker.name).where(Worker.heartbeat_at >= db_now(-ttl_s)).order_by(Worker.name)
    return list(session.scalars(query))


def held_chunks(session: Session, *, ttl_s: float) -> dict[str, list[str]]:
    """What each live worker holds, by worker name."""
    query = select(Worker.name, Worker.holding).where(Worker.heartbeat_at >= db_now(-ttl_s))
    return {name: list(holding or []) for name, holding in session.execute(query)}


def live_capacity(session: Session, *, ttl_s: float) -> tuple[int, int]:
    """Live worker nodes, and the pool processes they compute with, in one query."""
    query = select(func.count(), func.coalesce(func.sum(Worker.processes), 0)).where(
        Worker.heartbeat_at >= db_now(-ttl_s)
    )
    nodes, processes = session.execute(query).one()
    return int(nodes), int(processes)


def live_kinds(session: Session, *, ttl_s: float, unsaid: Collection[str] = ()) -> dict[str, int]:
    """How many live workers run each workload kind, by kind.

    A node whose row says no kinds (a release before nodes said) is counted for `unsaid`:
    the kinds every node runs.
    """
    query = select(Worker.kinds).where(Worker.heartbeat_at >= db_now(-ttl_s))
    counts: Counter[str] = Counter()
    for kinds in session.scalars(query):
        counts.update(set(unsaid if kinds is None else kinds))
    return dict(counts)
