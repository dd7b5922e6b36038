"""prime_list: the primes in [start, end], by sieve or (slowly) by trial division.

Each chunk lists the primes of its own contiguous range and stores them compactly (see
`prime_codec`). The partials are the data: `combine` returns only a summary, and
readers page through the stored partials in chunk order by their item counts
(`count_items`, `item_blocks`), so no process ever holds the whole list as Python ints.

"trial_division" tests each number against every odd divisor up to its square root,
as the task queue this kind replaces offered; it is kept for comparison and is about
four orders of magnitude slower than the sieve per number near 1e6. Both live in
`prime_kernels`, imported only where chunks are computed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chunkwise.workloads.base import Chunk, Partial, Workload, contiguous_ranges, not_below
from chunkwise.workloads.limits import Limit, bounded_by
from chunkwise.workloads.prime_codec import encode_primes, iter_prime_blocks

MAX_END = Limit(
    name="prime_list_max_end",
    default=10**8,
    description="Largest end of a prime_list job's range.",
)
Algorithm = Literal["sieve", "trial_division"]


class PrimeListParams(BaseModel):
    """Parameters of a prime_list job."""

    model_config = ConfigDict(extra="forbid", strict=True)

    start: int = Field(default=0, ge=0, description="List the primes >= start.")
    end: Annotated[int, bounded_by(MAX_END), not_below("start")] = Field(
        ge=0, description="List the primes <= end."
    )
    algorithm: Algorithm = Field(
        default="sieve", description="'sieve', or 'trial_division' (slow; for comparison)."
    )


class PrimeList(Workload[PrimeListParams]):
    """The primes in [start, end]; each chunk encodes the primes of its own range."""

    kind = "prime_list"
    title = "List primes"
    description = "List the primes in [start, end] (sieve, or trial division for comparison)."
    params_model = PrimeListParams
    limits = (MAX_END,)

    def split(self, params: PrimeListParams, chunks: int) -> list[Chunk]:
        ranges = contiguous_ranges(params.start, params.end, chunks)
        return [{"lo": lo, "hi": hi, "algorithm": params.algorithm} for lo, hi in ranges]

    def run_chunk(self, chunk: Chunk) -> Partial:
        from chunkwise.workloads.prime_kernels import list_primes

        primes = list_primes(int(chunk["lo"]), int(chunk["hi"]), str(chunk["algorithm"]))
        return encode_primes(primes)

    def combine(self, params: PrimeListParams, partials: Sequence[Partial]) -> dict[str, Any]:
        filled = [partial for partial in partials if partial["count"]]
        return {
            "count": sum(int(partial["count"]) for partial in partials),
            "first": filled[0]["first"] if filled else None,
            "last": filled[-1]["last"] if filled else None,
        }

    def count_items(self, partial: Partial) -> int:
        return int(partial["count"])

    def item_blocks(self, partial: Partial) -> Iterator[Sequence[Any]]:
        for block in iter_prime_blocks(partial):
            yield block.tolist()

    def warm_up(self) -> None:
        from chunkwise.workloads.prime_kernels import list_primes_trial_division, warm_up_sieve

        warm_up_sieve()
        list_primes_trial_division(0, 100)
