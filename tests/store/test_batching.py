"""Statements over a caller's collection hold at the documented maximum on every backend."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from chunkwise.store import Store, cache, jobs, recovery
from chunkwise.store.batching import MAX_BOUND_VALUES, batches, bound_values_per_statement
from chunkwise.store.clock import database_now
from chunkwise.store.models import CacheEntry
from chunkwise.workloads import Cacheable, get_workload

DOCUMENTED_MAX_ENTRIES = 74_505
"""Cache entries one chunk of pi(10^13) sieved in 8 chunks records: 298,020 bound values."""


def chunk_entries() -> dict[str, int]:
    """The cache entries of the second chunk of pi(10^13) in 8, with values of the size
    its blocks' prime counts have (about 2^24 / ln(10^12))."""
    workload = get_workload("prime_count")
    assert isinstance(workload, Cacheable)
    params = workload.params_model.model_validate({"n": 10**13, "method": "sieve"})
    spec = workload.split(params, 8)[1]
    keys = [piece.key for piece in workload.cache_pieces(spec) if piece.key is not None]
    return {key: 600_000 + i % 4_000 for i, key in enumerate(keys)}


def test_the_documented_chunk_has_the_documented_entry_count() -> None:
    assert len(chunk_entries()) == DOCUMENTED_MAX_ENTRIES


def test_a_chunk_at_the_documented_maximum_is_remembered_found_and_touched(store: Store) -> None:
    entries = chunk_entries()

    with store.writer() as session:
        cache.remember(session, entries=entries)
    with store.writer() as session:
        cache.remember(session, entries=dict.fromkeys(entries, -1))  # first value stays
    with store.reader() as session:
        found = cache.lookup(session, keys=list(entries))
        assert cache.size(session) == DOCUMENTED_MAX_ENTRIES
        before_touch = database_now(session)
    assert found == entries

    with store.writer() as session:
        cache.touch(session, keys=list(entries))
    with store.reader() as session:
        touched = select(func.count()).where(CacheEntry.used_at >= before_touch)
        assert session.scalar(touched) == DOCUMENTED_MAX_ENTRIES


def test_unrecorded_chunks_takes_any_number_of_jobs(store: Store) -> None:
    with store.writer() as session:
        job = jobs.create_job(session, kind="sum_range", params={"n": 1}, specs=[{"lo": 1}])
    unknown = [(uuid.UUID(int=i), 0) for i in range(1, 70_000)]  # past psycopg's 65,535
    with store.reader() as session:
        pending = recovery.unrecorded_chunks(session, keys=[*unknown, (job.id, 0)])
    assert [(chunk.job_id, chunk.index) for chunk in pending] == [(job.id, 0)]


@pytest.mark.parametrize("columns", [1, 4, 7])
def test_batches_keep_order_and_bound_the_values_per_statement(columns: int) -> None:
    items = list(range(100_003))
    parts = list(batches(items, columns=columns))
    assert [item for part in parts for item in part] == items
    assert all(len(part) * columns <= bound_values_per_statement() for part in parts)
    assert len(parts) == -(-len(items) // (bound_values_per_statement() // columns))
    assert bound_values_per_statement() <= MAX_BOUND_VALUES


def test_batches_of_nothing_and_of_no_columns() -> None:
    assert list(batches([], columns=3)) == []
    with pytest.raises(ValueError, match="columns"):
        list(batches([1], columns=0))
