"""A job's progress measured in work, not in chunks: what its time left is estimated from.

Chunks of one job need not be equal: a combinatorial prime count's first chunks hold the
dense leaves and take several times longer than its last. Each kind says what a chunk
weighs (`Workload.chunk_work`); the live progress stream reports the share of the
weight recorded, and the dashboard divides the time elapsed by it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from chunkwise.store import Store
from chunkwise.store import jobs as job_rows
from chunkwise.store.inspection import chunk_specs
from chunkwise.workloads import UnknownWorkloadError, get_workload


@dataclass
class WorkTally:
    """The weights of a job's chunks (summing to 1) and the ones recorded so far."""

    weights: dict[int, float]
    done: set[int] = field(default_factory=set)

    @classmethod
    def load(cls, store: Store, job_id: uuid.UUID) -> WorkTally | None:
        """The job's tally as the store has it now; None for a job or kind not known."""
        with store.reader() as session:
            job = job_rows.get_job(session, job_id=job_id)
            if job is None:
                return None
            rows = chunk_specs(session, job_id=job_id)
        try:
            workload = get_workload(job.kind)
        except UnknownWorkloadError:
            return None
        raw = {index: max(0.0, workload.chunk_work(spec)) for index, spec, _ in rows}
        total = sum(raw.values())
        if total <= 0:
            return None
        weights = {index: weight / total for index, weight in raw.items()}
        return cls(weights, {index for index, _, recorded in rows if recorded})

    def record(self, index: int) -> None:
        self.done.add(index)

    @property
    def fraction(self) -> float:
        """The share of the job's work recorded, 0 to 1."""
        return min(1.0, sum(self.weights.get(index, 0.0) for index in self.done))
