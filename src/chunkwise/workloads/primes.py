"""prime_count: how many primes are <= n, counted by a segmented sieve per chunk.

`count_primes_between` and `list_primes_between` choose the kernel: the numba wheel
sieve in `sieve` when numba imports, else the numpy sieve in `sieve_numpy`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from chunkwise.workloads.base import (
    Chunk,
    Partial,
    Piece,
    Workload,
    contiguous_ranges,
    within_limit,
)
from chunkwise.workloads.jit import NUMBA_AVAILABLE
from chunkwise.workloads.sieve import Int64Array, count_primes_numba, list_primes_numba
from chunkwise.workloads.sieve_numpy import count_primes_numpy, list_primes_numpy

PRIME_COUNT_MIN_N = 10_000
DEFAULT_MAX_N = 10**13
KERNEL_MAX = 10**16
"""Largest upper bound the kernels accept: the base-prime sieve up to sqrt(hi) is not
segmented (50 MB at this bound), and all index arithmetic must stay inside int64."""
CACHE_BLOCK_BITS = 24
CACHE_BLOCK = 1 << CACHE_BLOCK_BITS
"""The cache grid: blocks [b * 2^24, (b + 1) * 2^24), a few milliseconds of sieving each."""

WARM_UP_HI = 1_000_000
"""warm_up sieves [0, WARM_UP_HI]: enough to load every kernel, a few milliseconds once loaded."""


class PrimeCountParams(BaseModel):
    """Parameters of a prime_count job."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=PRIME_COUNT_MIN_N, description="Count the primes <= n.")

    @field_validator("n")
    @classmethod
    def _within_limit(cls, n: int, info: ValidationInfo) -> int:
        return within_limit(n, info, limit_key="prime_count_max_n", default=DEFAULT_MAX_N)


def _check_bounds(hi: int) -> None:
    if hi > KERNEL_MAX:
        raise ValueError(f"upper bound {hi} exceeds the sieve's limit {KERNEL_MAX}")


def count_primes_between(lo: int, hi: int) -> int:
    """The number of primes p with lo <= p <= hi (0 when the range is empty)."""
    _check_bounds(hi)
    if NUMBA_AVAILABLE:
        return count_primes_numba(lo, hi)
    return count_primes_numpy(lo, hi)


def list_primes_between(lo: int, hi: int) -> Int64Array:
    """The primes p with lo <= p <= hi, ascending, as int64."""
    _check_bounds(hi)
    if NUMBA_AVAILABLE:
        return list_primes_numba(lo, hi)
    return list_primes_numpy(lo, hi)


def warm_up_sieve() -> None:
    """Compile or load the sieve kernels and build the base-prime table and patterns."""
    count_primes_between(0, WARM_UP_HI)
    list_primes_between(WARM_UP_HI - 1000, WARM_UP_HI)


class PrimeCount(Workload[PrimeCountParams]):
    """pi(n): each chunk counts the primes in its own contiguous range of 1..n."""

    kind = "prime_count"
    description = "Count the primes <= n."
    params_model = PrimeCountParams

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
        return count_primes_between(int(chunk["lo"]), int(chunk["hi"]))

    def cache_pieces(self, chunk: Chunk) -> list[Piece] | None:
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
        warm_up_sieve()
