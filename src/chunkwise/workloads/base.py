"""The contract every workload kind fulfils.

A workload is pure computation: it validates its parameters, splits a job into
self-contained chunks, computes one chunk, and combines the partial results. It does
no I/O and knows nothing of Celery, the store or HTTP, so every kind is unit-tested
in isolation and a chunk computed twice gives the same partial.

Chunks and partials are JSON values: they travel in broker messages and are kept in
the store.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

Chunk = dict[str, Any]
"""A JSON object that describes one chunk completely: `run_chunk` needs nothing else."""

Partial = Any
"""The JSON value one chunk computes."""

P = TypeVar("P", bound=BaseModel)


class UnknownWorkloadError(LookupError):
    """Raised when no workload kind has the name asked for."""


class Workload(ABC, Generic[P]):
    """One kind of job: parameters, splitting, per-chunk computation, combining."""

    kind: ClassVar[str]
    description: ClassVar[str]
    params_model: type[P]

    def parse_params(self, raw: Mapping[str, Any], limits: Mapping[str, int]) -> P:
        """Validate raw parameters; `limits` reaches field validators as pydantic context.

        Raises pydantic.ValidationError.
        """
        return self.params_model.model_validate(dict(raw), context=dict(limits))

    @abstractmethod
    def split(self, params: P, chunks: int) -> list[Chunk]:
        """Split the job into `chunks` self-contained chunks, in combine order."""

    @abstractmethod
    def run_chunk(self, chunk: Chunk) -> Partial:
        """Compute one chunk. Deterministic: the same chunk always gives the same partial."""

    @abstractmethod
    def combine(self, params: P, partials: Sequence[Partial]) -> dict[str, Any]:
        """Combine the partials, given in chunk order, into the job's result object."""

    def warm_up(self) -> None:
        """Prepare a worker process (compile kernels, build tables) before its first chunk."""


def contiguous_ranges(lo: int, hi: int, chunks: int) -> list[tuple[int, int]]:
    """Split the inclusive range [lo, hi] into `chunks` contiguous inclusive ranges.

    Each range holds (hi - lo + 1) // chunks numbers and the last absorbs the remainder,
    as the prime counter this system replaces did: 1..100 in 4 gives 1-25, 26-50, 51-75,
    76-100. When there are fewer numbers than chunks, the leading ranges are empty
    (their low end exceeds their high end).
    """
    if chunks < 1:
        raise ValueError("chunks must be at least 1")
    size = (hi - lo + 1) // chunks
    ranges = [(lo + i * size, lo + (i + 1) * size - 1) for i in range(chunks - 1)]
    ranges.append((lo + (chunks - 1) * size, hi))
    return ranges
