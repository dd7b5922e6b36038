"""Reading long results (the primes of a prime_list job) a page or a stream at a time.

Such a result lives in its chunks' compact partials. A page skips whole partials by
their item counts and decodes only the ones it touches; a download decodes one partial
at a time, so neither ever builds the whole list in memory.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chunkwise.errors import JobConflictError, JobNotFoundError
from chunkwise.store import Job, JobState, Store, jobs
from chunkwise.workloads import Workload, get_workload


@dataclass(frozen=True)
class ItemPage:
    total: int
    items: list[Any]


def listable_job(store: Store, job_id: uuid.UUID) -> tuple[Job, Workload[Any]]:
    """The job and its workload, if its result is an item list that is ready."""
    with store.reader() as session:
        job = jobs.get_job(session, job_id)
    if job is None:
        raise JobNotFoundError(f"no job with id {job_id}")
    workload = get_workload(job.kind)
    if type(workload).count_items is Workload.count_items:
        raise JobConflictError(
            f"a {job.kind} job has no item list; its result is in GET /api/jobs/{job_id}"
        )
    if job.state != JobState.SUCCESS:
        raise JobConflictError(f"job {job_id} is {job.state}; its items are ready on SUCCESS")
    return job, workload


def item_page(store: Store, job_id: uuid.UUID, *, offset: int, limit: int) -> ItemPage:
    """Items [offset, offset + limit) of a finished job's result, and their total."""
    job, workload = listable_job(store, job_id)
    total, items = 0, list[Any]()
    for partial in _partials(store, job):
        count = workload.count_items(partial) or 0
        wanted_from = max(offset - total, 0)
        if len(items) < limit and wanted_from < count:
            flat = itertools.chain.from_iterable(workload.item_blocks(partial))
            chosen = itertools.islice(flat, wanted_from, wanted_from + limit - len(items))
            items.extend(chosen)
        total += count
    return ItemPage(total=total, items=items)


def item_text(store: Store, job_id: uuid.UUID) -> Iterator[str]:
    """The whole result as text, one item per line, decoded a block at a time."""
    job, workload = listable_job(store, job_id)
    for partial in _partials(store, job):
        for block in workload.item_blocks(partial):
            if block:
                yield "\n".join(map(str, block)) + "\n"


def _partials(store: Store, job: Job) -> Iterator[Any]:
    for index in range(job.total_chunks):
        with store.reader() as session:
            yield jobs.chunk_partial(session, job_id=job.id, index=index)
