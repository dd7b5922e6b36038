"""prime_count: how many primes are <= n, counted by a segmented sieve per chunk."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from math import isqrt
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from chunkwise.workloads.base import Chunk, Partial, Workload, contiguous_ranges

PRIME_COUNT_MIN_N = 10_000
DEFAULT_MAX_N = 10**13
SEGMENT_ODDS = 1 << 19
"""Odd numbers per sieve segment: a 512 KiB byte array, sized to stay in L2."""


class PrimeCountParams(BaseModel):
    """Parameters of a prime_count job."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=PRIME_COUNT_MIN_N, description="Count the primes <= n.")

    @field_validator("n")
    @classmethod
    def _within_limit(cls, n: int, info: ValidationInfo) -> int:
        limit = (info.context or {}).get("prime_count_max_n", DEFAULT_MAX_N)
        if n > limit:
            raise ValueError(f"Input should be less than or equal to {limit}")
        return n


@lru_cache(maxsize=8)
def odd_primes_upto(limit: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The odd primes <= limit, by a plain sieve; cached per process for reuse across chunks."""
    if limit < 3:
        return np.zeros(0, dtype=np.int64)
    is_prime = np.ones(limit + 1, dtype=np.bool_)
    is_prime[:2] = False
    is_prime[4::2] = False
    for p in range(3, isqrt(limit) + 1, 2):
        if is_prime[p]:
            is_prime[p * p :: 2 * p] = False
    primes = np.flatnonzero(is_prime).astype(np.int64)
    return primes[primes > 2]


def count_primes_between(lo: int, hi: int) -> int:
    """The number of primes p with lo <= p <= hi."""
    lo = max(lo, 2)
    if hi < lo:
        return 0
    count = 1 if lo == 2 else 0
    first_odd = max(lo | 1, 3)
    base = odd_primes_upto(isqrt(hi))
    for seg_lo in range(first_odd, hi + 1, 2 * SEGMENT_ODDS):
        seg_hi = min(seg_lo + 2 * SEGMENT_ODDS - 2, hi - (hi + 1) % 2)
        count += _count_segment(seg_lo, seg_hi, base)
    return count


def _count_segment(seg_lo: int, seg_hi: int, base: np.ndarray[Any, np.dtype[np.int64]]) -> int:
    """Count primes among the odd numbers seg_lo, seg_lo + 2, ..., seg_hi (both odd)."""
    is_prime = np.ones((seg_hi - seg_lo) // 2 + 1, dtype=np.bool_)
    for p in base[: int(np.searchsorted(base, isqrt(seg_hi), side="right"))]:
        p = int(p)
        start = max(p * p, -(-seg_lo // p) * p)
        if start % 2 == 0:
            start += p
        is_prime[(start - seg_lo) // 2 :: p] = False
    return int(np.count_nonzero(is_prime))


class PrimeCount(Workload[PrimeCountParams]):
    """pi(n): each chunk counts the primes in its own contiguous range of 1..n."""

    kind = "prime_count"
    description = "Count the primes <= n."
    params_model = PrimeCountParams

    def split(self, params: PrimeCountParams, chunks: int) -> list[Chunk]:
        return [{"lo": lo, "hi": hi} for lo, hi in contiguous_ranges(1, params.n, chunks)]

    def run_chunk(self, chunk: Chunk) -> Partial:
        return count_primes_between(int(chunk["lo"]), int(chunk["hi"]))

    def combine(self, params: PrimeCountParams, partials: Sequence[Partial]) -> dict[str, Any]:
        return {"prime_count": sum(int(partial) for partial in partials)}
