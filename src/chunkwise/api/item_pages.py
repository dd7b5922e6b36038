"""Reading long results (the primes of a prime_list job) a page or a stream at a time.

Such a result lives in its chunks' compact partials, and each chunk's item count is kept
beside its partial. A page takes the total and the chunks it falls in from the counts
and reads only those chunks' partials; a download decodes one partial at a time, so
neither ever builds the whole list in memory. This is the one paging implementation, for
any kind that is an `ItemList`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from chunkwise.errors import JobConflictError, JobNotFoundError
from chunkwise.store import Job, JobState, Store, jobs, results
from chunkwise.workloads import ItemList, get_workload


@dataclass(frozen=True)
class ItemPage:
    total: int
    items: list[Any]


def listable_job(store: Store, job_id: uuid.UUID) -> tuple[Job, ItemList]:
    """The job and its workload, if its result is an item list that is ready."""
    with store.reader() as session:
        job = jobs.get_job(session, job_id=job_id)
    if job is None:
        raise JobNotFoundError(f"no job with id {job_id}")
    workload = get_workload(job.kind)
    if not isinstance(workload, ItemList):
        raise JobConflictError(
            f"a {job.kind} job has no item list; its result is in GET /api/jobs/{job_id}"
        )
    if job.state != JobState.SUCCESS:
        raise JobConflictError(f"job {job_id} is {job.state}; its items are ready on SUCCESS")
    return job, workload


@dataclass(frozen=True)
class ChunkSlice:
    """Items [start, stop) of one chunk's partial."""

    index: int
    start: int
    stop: int


def page_slices(counts: Sequence[tuple[int, int]], *, offset: int, limit: int) -> list[ChunkSlice]:
    """The chunks that items [offset, offset + limit) of the result fall in, and where.

    `counts` are (chunk index, item count) in chunk order.
    """
    slices, before, end = list[ChunkSlice](), 0, offset + limit
    for index, count in counts:
        if before >= end:
            break
        start, stop = max(offset - before, 0), min(end - before, count)
        if start < stop:
            slices.append(ChunkSlice(index, start, stop))
        before += count
    return slices


def item_page(store: Store, job_id: uuid.UUID, *, offset: int, limit: int) -> ItemPage:
    """Items [offset, offset + limit) of a finished job's result, and their total.

    The total and the chunks the page falls in come from the chunks' item counts; only
    the partials of those chunks are read.
    """
    job, workload = listable_job(store, job_id)
    counts = _item_counts(store, job, workload)
    items = list[Any]()
    for piece in page_slices(counts, offset=offset, limit=limit):
        partial = _partial(store, job.id, piece.index)
        items.extend(_items_between(workload.item_blocks(partial), piece.start, piece.stop))
    return ItemPage(total=sum(count for _, count in counts), items=items)


def _items_between(blocks: Iterable[Sequence[Any]], start: int, stop: int) -> list[Any]:
    """Items [start, stop) of a partial given as its blocks; blocks before `start` are
    counted, not copied."""
    items, seen = list[Any](), 0
    for block in blocks:
        if seen >= stop:
            break
        if seen + len(block) > start:
            items.extend(block[max(start - seen, 0) : stop - seen])
        seen += len(block)
    return items


def _item_counts(store: Store, job: Job, workload: ItemList) -> list[tuple[int, int]]:
    with store.reader() as session:
        rows = results.item_counts(session, job_id=job.id)
    # A chunk recorded without its count (by an older worker) is counted from its partial.
    return [
        (index, count if count is not None else _count_of(store, job, workload, index))
        for index, count in rows
    ]


def _count_of(store: Store, job: Job, workload: ItemList, index: int) -> int:
    return workload.count_items(_partial(store, job.id, index))


def _partial(store: Store, job_id: uuid.UUID, index: int) -> Any:
    with store.reader() as session:
        return results.chunk_partial(session, job_id=job_id, index=index)


def item_text(store: Store, job_id: uuid.UUID) -> Iterator[str]:
    """The whole result as text, one item per line, decoded a block at a time."""
    job, workload = listable_job(store, job_id)
    for partial in _partials(store, job):
        for block in workload.item_blocks(partial):
            if block:
                yield "\n".join(map(str, block)) + "\n"


def _partials(store: Store, job: Job) -> Iterator[Any]:
    for index in range(job.total_chunks):
        yield _partial(store, job.id, index)
