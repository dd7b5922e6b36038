"""A job to test the store with: what it computes does not matter, only its chunks."""

from __future__ import annotations

import uuid

from chunkwise.store import Store, jobs


def make_job(store: Store, chunks: int = 4) -> uuid.UUID:
    """A PENDING sum_range job of `chunks` chunks, committed; its id."""
    with store.writer() as session:
        job = jobs.create_job(
            session,
            kind="sum_range",
            params={"n": 100},
            specs=[{"lo": i, "hi": i} for i in range(chunks)],
        )
        return job.id
