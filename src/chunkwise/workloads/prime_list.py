"""prime_list: the primes in [start, end], by sieve or (slowly) by trial division.

Each chunk lists the primes of its own contiguous range and stores them compactly (see
`prime_codec`). The partials are the data: `combine` returns only a summary, and
readers page through the stored partials in chunk order with
`prime_codec.page_primes`, so no process ever holds the whole list as Python ints.

"trial_division" tests each number against every odd divisor up to its square root,
as the task queue this kind replaces offered; it is kept for comparison and is about
four orders of magnitude slower than the sieve per number near 1e6.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from chunkwise.workloads.base import Chunk, Partial, Workload, contiguous_ranges, within_limit
from chunkwise.workloads.jit import njit
from chunkwise.workloads.prime_codec import encode_primes, iter_prime_blocks
from chunkwise.workloads.primes import list_primes_between, warm_up_sieve
from chunkwise.workloads.sieve import Int64Array, estimated_prime_count

DEFAULT_MAX_END = 10**8
Algorithm = Literal["sieve", "trial_division"]


class PrimeListParams(BaseModel):
    """Parameters of a prime_list job."""

    model_config = ConfigDict(extra="forbid")

    start: int = Field(default=0, ge=0, description="List the primes >= start.")
    end: int = Field(ge=0, description="List the primes <= end.")
    algorithm: Algorithm = Field(
        default="sieve", description="'sieve', or 'trial_division' (slow; for comparison)."
    )

    @field_validator("end")
    @classmethod
    def _end_in_bounds(cls, end: int, info: ValidationInfo) -> int:
        within_limit(end, info, limit_key="prime_list_max_end", default=DEFAULT_MAX_END)
        start = info.data.get("start")
        if start is not None and end < start:
            raise ValueError(f"end ({end}) should be greater than or equal to start ({start})")
        return end


@njit
def _trial_division(lo: int, hi: int, capacity: int) -> Int64Array:  # pragma: no cover
    """The primes in [lo, hi], each number tried against every odd divisor <= its root."""
    out = np.empty(max(capacity, 16), dtype=np.int64)
    m = 0
    for n in range(max(lo, 2), hi + 1):
        prime = n == 2 or n % 2 == 1
        d = 3
        while prime and d * d <= n:
            if n % d == 0:
                prime = False
            d += 2
        if prime:
            if m == out.size:
                grown = np.empty(2 * out.size, dtype=np.int64)
                grown[:m] = out[:m]
                out = grown
            out[m] = n
            m += 1
    return out[:m].copy()


def list_primes_trial_division(lo: int, hi: int) -> Int64Array:
    """The primes p with lo <= p <= hi, ascending, by trial division."""
    if hi < max(lo, 2):
        return np.zeros(0, dtype=np.int64)
    found: Int64Array = _trial_division(lo, hi, estimated_prime_count(lo, hi))
    return found


_LISTERS: dict[str, Callable[[int, int], Int64Array]] = {
    "sieve": list_primes_between,
    "trial_division": list_primes_trial_division,
}


def list_primes(lo: int, hi: int, algorithm: str) -> Int64Array:
    """The primes in [lo, hi] by the named algorithm; ValueError for an unknown name."""
    try:
        lister = _LISTERS[algorithm]
    except KeyError:
        raise ValueError(f"unknown algorithm {algorithm!r}") from None
    return lister(lo, hi)


class PrimeList(Workload[PrimeListParams]):
    """The primes in [start, end]; each chunk encodes the primes of its own range."""

    kind = "prime_list"
    description = "List the primes in [start, end] (sieve, or trial division for comparison)."
    params_model = PrimeListParams

    def split(self, params: PrimeListParams, chunks: int) -> list[Chunk]:
        ranges = contiguous_ranges(params.start, params.end, chunks)
        return [{"lo": lo, "hi": hi, "algorithm": params.algorithm} for lo, hi in ranges]

    def run_chunk(self, chunk: Chunk) -> Partial:
        primes = list_primes(int(chunk["lo"]), int(chunk["hi"]), str(chunk["algorithm"]))
        return encode_primes(primes)

    def combine(self, params: PrimeListParams, partials: Sequence[Partial]) -> dict[str, Any]:
        filled = [partial for partial in partials if partial["count"]]
        return {
            "count": sum(int(partial["count"]) for partial in partials),
            "first": filled[0]["first"] if filled else None,
            "last": filled[-1]["last"] if filled else None,
        }

    def count_items(self, partial: Partial) -> int | None:
        return int(partial["count"])

    def item_blocks(self, partial: Partial) -> Iterator[Sequence[Any]]:
        for block in iter_prime_blocks(partial):
            yield block.tolist()

    def warm_up(self) -> None:
        warm_up_sieve()
        list_primes_trial_division(0, 100)
