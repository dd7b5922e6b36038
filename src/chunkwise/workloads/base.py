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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

from pydantic import AfterValidator, BaseModel, ValidationInfo

from chunkwise.workloads.limits import Limit

Chunk = dict[str, Any]
"""A JSON object that describes one chunk completely: `run_chunk` needs nothing else."""

Partial = Any
"""The JSON value one chunk computes."""

P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class Piece:
    """A part of a chunk. With a key it is a unit the engine may take from its cache: the
    key names the piece's content (kind and grid block), so any job that needs the same
    block gets the same partial."""

    key: str | None
    chunk: Chunk


@runtime_checkable
class Cacheable(Protocol):
    """A kind whose chunks the engine may assemble from cached pieces.

    The engine asks `isinstance(workload, Cacheable)`; a kind opts in by defining both
    methods, with no base class to inherit.
    """

    def cache_pieces(self, chunk: Chunk) -> list[Piece]:
        """The chunk cut into pieces along this kind's cache grid, in merge order."""

    def merge_pieces(self, partials: Sequence[Partial]) -> Partial:
        """One chunk's partial from its pieces' partials, in piece order."""


@runtime_checkable
class ItemList(Protocol):
    """A kind whose result is a long list of items, read a page or a stream at a time.

    The API pages through such a result by the per-chunk item counts the engine keeps
    (`count_items`), decoding only the partials a page falls in (`item_blocks`).
    """

    def count_items(self, partial: Partial) -> int:
        """How many result items a partial holds."""

    def item_blocks(self, partial: Partial) -> Iterator[Sequence[Any]]:
        """A partial's result items in order, a bounded block at a time."""


class UnknownWorkloadError(LookupError):
    """Raised when no workload kind has the name asked for."""


class Workload(ABC, Generic[P]):
    """One kind of job: parameters, splitting, per-chunk computation, combining."""

    kind: ClassVar[str]
    title: ClassVar[str] = ""
    """A short name for people (the dashboard's kind picker); empty shows the kind."""
    description: ClassVar[str]
    params_model: type[P]
    limits: ClassVar[tuple[Limit, ...]] = ()
    """The bounds this kind's parameters are held to (see `limits.bounded_by`)."""

    def parse_params(self, raw: Mapping[str, Any], limits: Mapping[str, int]) -> P:
        """Validate raw parameters; `limits` reaches field validators as pydantic context.

        Raises pydantic.ValidationError.
        """
        return self.params_model.model_validate(dict(raw), context=dict(limits))

    def complete_params(self, params: P) -> P:
        """A new job's parameters with what the request left to the engine filled in.

        Called once, when a job is submitted, on parameters that `parse_params` accepted.
        The completed parameters are what the store keeps, so validating a stored job
        again gives the same values: anything drawn at random is drawn here, not in a
        validator.
        """
        return params

    @abstractmethod
    def split(self, params: P, chunks: int) -> list[Chunk]:
        """Split the job into `chunks` self-contained chunks, in combine order."""

    @abstractmethod
    def run_chunk(self, chunk: Chunk) -> Partial:
        """Compute one chunk. Deterministic: the same chunk always gives the same partial."""

    @abstractmethod
    def combine(self, params: P, partials: Sequence[Partial]) -> dict[str, Any]:
        """Combine the partials, given in chunk order, into the job's result object."""

    def chunk_work(self, chunk: Chunk) -> float:
        """How much of the job's work this chunk is, relative to its siblings: live
        progress and the time left are measured in it. Default: chunks are equal."""
        return 1.0

    def warm_up(self) -> None:
        """Prepare a worker process (compile kernels, build tables) before its first chunk."""


def not_below(lower: str) -> AfterValidator:
    """Field metadata for the upper end of a range: it may not be below the field `lower`,
    declared (so validated) before it: `end: Annotated[int, not_below("start")]`."""

    def check(value: int, info: ValidationInfo) -> int:
        low = info.data.get(lower)
        if low is not None and value < low:
            raise ValueError(
                f"{info.field_name} ({value}) should be greater than or equal to {lower} ({low})"
            )
        return value

    return AfterValidator(check)


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
