"""The prime kernels behind prime_count and prime_list, where chunks are computed.

`count_primes_between` and `list_primes_between` choose the kernel: the numba wheel
sieve in `sieve` when numba imports, else the numpy sieve in `sieve_numpy`.

Only worker processes need this module, and importing it loads numba and LLVM (about
60 MB of resident memory per process). The workload classes import it inside
`run_chunk` and `warm_up`, so a process that only validates parameters and reads
results, like the API, never does.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from chunkwise.workloads.jit import NUMBA_AVAILABLE, njit
from chunkwise.workloads.sieve import (
    Int64Array,
    count_primes_numba,
    estimated_prime_count,
    list_primes_numba,
)
from chunkwise.workloads.sieve_numpy import count_primes_numpy, list_primes_numpy

KERNEL_MAX = 10**16
"""Largest upper bound the kernels accept: the base-prime sieve up to sqrt(hi) is not
segmented (50 MB at this bound), and all index arithmetic must stay inside int64."""

WARM_UP_HI = 1_000_000
"""warm_up sieves [0, WARM_UP_HI]: enough to load every kernel, a few milliseconds once loaded."""


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
