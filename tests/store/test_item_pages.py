"""A page of a long result reads the chunks' item counts and only the partials it touches,
and its total and offsets are right at chunk boundaries, on every backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event

from chunkwise.api.item_pages import ChunkSlice, item_page, page_slices
from chunkwise.store import Store, jobs, recording, results
from chunkwise.workloads.prime_codec import encode_primes

# Chunk sizes of the result, with empty chunks at the start, in the middle and at the end.
CHUNK_RANGES = [(0, 1), (2, 100), (101, 500), (500, 499), (501, 5000), (5001, 5001), (5002, 9000)]


def primes_between(lo: int, hi: int) -> list[int]:
    return [n for n in range(max(lo, 2), hi + 1) if all(n % d for d in range(2, int(n**0.5) + 1))]


EXPECTED = [p for lo, hi in CHUNK_RANGES for p in primes_between(lo, hi)]
COUNTS = [len(primes_between(lo, hi)) for lo, hi in CHUNK_RANGES]
BOUNDARIES = list(np.cumsum(COUNTS))


def make_prime_list_job(store: Store, *, with_counts: bool = True) -> uuid.UUID:
    """A finished prime_list job whose chunks hold the primes of CHUNK_RANGES."""
    specs = [{"lo": lo, "hi": hi, "algorithm": "sieve"} for lo, hi in CHUNK_RANGES]
    with store.writer() as session:
        job = jobs.create_job(
            session, kind="prime_list", params={"start": 0, "end": 9000}, specs=specs
        )
    for index, (lo, hi) in enumerate(CHUNK_RANGES):
        partial = encode_primes(np.array(primes_between(lo, hi), dtype=np.int64))
        count = partial["count"] if with_counts else None
        with store.writer() as session:
            recording.record_chunk(
                session, job_id=job.id, index=index, partial=partial, worker="w", item_count=count
            )
    with store.writer() as session:
        jobs.finish_job(session, job_id=job.id, result={"count": len(EXPECTED)})
    return job.id


@contextmanager
def partial_reads(store: Store) -> Iterator[list[str]]:
    """The SELECT statements that read chunk partials while the block runs."""
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "chunks.partial" in statement:
            reads.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        yield reads
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)


def touched_chunks(offset: int, limit: int) -> int:
    """How many non-empty chunks items [offset, offset + limit) fall in, counted apart."""
    starts = [0, *BOUNDARIES[:-1]]
    return sum(
        1
        for start, count in zip(starts, COUNTS, strict=True)
        if count and start < offset + limit and offset < start + count
    )


PAGES = [
    (0, 1),
    (0, 10_000),
    (BOUNDARIES[1] - 1, 2),  # the last item of one chunk and the first of the next
    (BOUNDARIES[1], 5),  # exactly at a boundary
    (BOUNDARIES[2], BOUNDARIES[4] - BOUNDARIES[2]),  # exactly two whole chunks
    (BOUNDARIES[4] - 3, 3),  # ends exactly at a boundary
    (len(EXPECTED) - 1, 10),  # the last item
    (len(EXPECTED), 10),  # just past the end
    (10**9, 10),
]


@pytest.mark.parametrize(("offset", "limit"), PAGES)
def test_a_page_reads_only_the_partials_it_touches(store: Store, offset: int, limit: int) -> None:
    job_id = make_prime_list_job(store)

    with partial_reads(store) as reads:
        page = item_page(store, job_id, offset=offset, limit=limit)

    assert page.total == len(EXPECTED)
    assert page.items == EXPECTED[offset : offset + limit]
    assert len(reads) == touched_chunks(offset, limit)


def test_chunks_recorded_without_counts_are_counted_from_their_partials(store: Store) -> None:
    job_id = make_prime_list_job(store, with_counts=False)
    page = item_page(store, job_id, offset=BOUNDARIES[1] - 1, limit=3)
    assert page.total == len(EXPECTED)
    assert page.items == EXPECTED[BOUNDARIES[1] - 1 : BOUNDARIES[1] + 2]


def test_item_counts_are_kept_per_chunk(store: Store) -> None:
    job_id = make_prime_list_job(store)
    with store.reader() as session:
        assert results.item_counts(session, job_id=job_id) == list(enumerate(COUNTS))


@pytest.mark.parametrize(
    ("offset", "limit", "expected"),
    [
        (0, 3, [ChunkSlice(0, 0, 3)]),
        (2, 4, [ChunkSlice(0, 2, 3), ChunkSlice(2, 0, 3)]),
        (3, 3, [ChunkSlice(2, 0, 3)]),
        (5, 10, [ChunkSlice(2, 2, 3), ChunkSlice(3, 0, 4)]),
        (10, 1, []),
        (0, 0, []),
    ],
)
def test_page_slices(offset: int, limit: int, expected: list[ChunkSlice]) -> None:
    counts = [(0, 3), (1, 0), (2, 3), (3, 4)]
    assert page_slices(counts, offset=offset, limit=limit) == expected
