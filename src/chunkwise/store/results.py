"""Reading what a job's chunks recorded, to give the job its result.

The worker that records a job's last chunk combines every partial into the result; a
long result (an item list) is served a page at a time from the chunks' item counts and
only the partials the page falls in, never all of them at once.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from chunkwise.store.driver_statements import DriverStatement
from chunkwise.store.models import Chunk
from chunkwise.store.writes import connection_of

_PARTIALS = DriverStatement(
    select(Chunk.partial).where(Chunk.job_id == bindparam("b_job")).order_by(Chunk.index)
)
"""Built once: the chunk that completes its job reads them on the per-chunk path."""


def chunk_partials(session: Session | Connection, *, job_id: uuid.UUID) -> list[Any]:
    """Every recorded partial of a job, in chunk order (None where not recorded)."""
    return [row[0] for row in _PARTIALS.execute(connection_of(session), {"b_job": job_id}).rows]


def chunk_partial(session: Session, *, job_id: uuid.UUID, index: int) -> Any:
    """One chunk's recorded partial (None when not recorded)."""
    query = select(Chunk.partial).where(Chunk.job_id == job_id, Chunk.index == index)
    return session.scalar(query)


def item_counts(session: Session, *, job_id: uuid.UUID) -> list[tuple[int, int | None]]:
    """(index, item count) of each of the job's chunks in order; None where not recorded."""
    query = select(Chunk.index, Chunk.item_count).where(Chunk.job_id == job_id)
    return [(index, count) for index, count in session.execute(query.order_by(Chunk.index))]
