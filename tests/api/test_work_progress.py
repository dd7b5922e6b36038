"""A job's progress in work: chunk weights from the kind, the share recorded so far."""

from __future__ import annotations

import uuid

import pytest

from chunkwise.api.work_progress import WorkTally
from chunkwise.store import Store
from chunkwise.store import jobs as job_rows
from chunkwise.workloads import get_workload


def submitted(store: Store, kind: str, params: dict[str, object], chunks: int) -> uuid.UUID:
    workload = get_workload(kind)
    parsed = workload.complete_params(workload.parse_params(params, {}))
    specs = workload.split(parsed, chunks)
    with store.writer() as session:
        return job_rows.create_job(session, kind=kind, params=parsed.model_dump(), specs=specs).id


def test_a_combinatorial_count_weighs_its_first_chunks_most(store: Store) -> None:
    job_id = submitted(store, "prime_count", {"n": 10**15}, 16)
    tally = WorkTally.load(store, job_id)
    assert tally is not None and tally.fraction == 0.0
    assert sum(tally.weights.values()) == pytest.approx(1.0)
    assert tally.weights[0] > 1 / 16 > tally.weights[15]
    for index in tally.weights:
        tally.record(index)
    assert tally.fraction == pytest.approx(1.0)


def test_equal_chunks_weigh_the_same(store: Store) -> None:
    job_id = submitted(store, "sum_range", {"n": 1000}, 4)
    tally = WorkTally.load(store, job_id)
    assert tally is not None
    tally.record(2)
    assert tally.fraction == pytest.approx(0.25)
