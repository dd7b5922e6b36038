"""prime_count: how many primes are <= n, counted by a segmented sieve per chunk.

The kernels live in `prime_kernels`, imported inside `run_chunk` and `warm_up` only, so
that validating parameters (all the API does with a kind) does not load numba.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from chunkwise.workloads.base import Chunk, Partial, Piece, Workload, contiguous_ranges
from chunkwise.workloads.limits import Limit, bounded_by

PRIME_COUNT_MIN_N = 10_000
MAX_N = Limit(
    name="prime_count_max_n",
    default=10**13,
    description="Largest n a prime_count job may ask for.",
    minimum=PRIME_COUNT_MIN_N,
)
CACHE_BLOCK_BITS = 24
CACHE_BLOCK = 1 << CACHE_BLOCK_BITS
"""The cache grid: blocks [b * 2^24, (b + 1) * 2^24), a few milliseconds of sieving each."""


class PrimeCountParams(BaseModel):
    """Parameters of a prime_count job."""

    model_config = ConfigDict(extra="forbid")

    n: Annotated[int, bounded_by(MAX_N)] = Field(
        ge=PRIME_COUNT_MIN_N, description="Count the primes <= n."
    )


class PrimeCount(Workload[PrimeCountParams]):
    """pi(n): each chunk counts the primes in its own contiguous range of 1..n."""

    kind = "prime_count"
    title = "Count primes"
    description = "Count the primes <= n."
    params_model = PrimeCountParams
    limits = (MAX_N,)

    def split(self, params: PrimeCountParams, chunks: int) -> list[Chunk]:
        """Contiguous ranges of 1..n; when every chunk can hold a whole cache block, the
        boundaries fall on the block grid so that later jobs reuse the blocks."""
        blocks = (params.n + 1) // CACHE_BLOCK
        if blocks < chunks:
            return [{"lo": lo, "hi": hi} for lo, hi in contiguous_ranges(1, params.n, chunks)]
        groups = contiguous_ranges(0, blocks - 1, chunks)
        specs = [
            {"lo": first * CACHE_BLOCK, "hi": (last + 1) * CACHE_BLOCK - 1}
            for first, last in groups
        ]
        specs[0]["lo"] = 1
        specs[-1]["hi"] = params.n
        return specs

    def run_chunk(self, chunk: Chunk) -> Partial:
        from chunkwise.workloads.prime_kernels import count_primes_between

        return count_primes_between(int(chunk["lo"]), int(chunk["hi"]))

    def cache_pieces(self, chunk: Chunk) -> list[Piece]:
        """Whole grid blocks are keyed; the ragged ends are computed directly.

        0 and 1 are not prime, so a chunk starting at 1 covers block 0 whole.
        """
        lo, hi = int(chunk["lo"]), int(chunk["hi"])
        lo = 0 if lo <= 1 else lo
        pieces: list[Piece] = []
        first_block = -(-lo // CACHE_BLOCK)
        last_block = (hi + 1) // CACHE_BLOCK - 1
        if first_block > last_block:
            return [Piece(None, {"lo": lo, "hi": hi})]
        if lo < first_block * CACHE_BLOCK:
            pieces.append(Piece(None, {"lo": lo, "hi": first_block * CACHE_BLOCK - 1}))
        for block in range(first_block, last_block + 1):
            span = {"lo": block * CACHE_BLOCK, "hi": (block + 1) * CACHE_BLOCK - 1}
            pieces.append(Piece(f"{self.kind}:2^{CACHE_BLOCK_BITS}:{block}", span))
        if (last_block + 1) * CACHE_BLOCK <= hi:
            pieces.append(Piece(None, {"lo": (last_block + 1) * CACHE_BLOCK, "hi": hi}))
        return pieces

    def merge_pieces(self, partials: Sequence[Partial]) -> Partial:
        return sum(int(partial) for partial in partials)

    def combine(self, params: PrimeCountParams, partials: Sequence[Partial]) -> dict[str, Any]:
        return {"prime_count": sum(int(partial) for partial in partials)}

    def warm_up(self) -> None:
        from chunkwise.workloads.prime_kernels import warm_up_sieve

        warm_up_sieve()
