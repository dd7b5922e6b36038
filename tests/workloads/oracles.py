"""Independent reference implementations the workload tests check the kernels against.

Nothing here shares code with chunkwise: primality is a deterministic Miller-Rabin test
behind a numpy filter of small prime factors.
"""

from __future__ import annotations

import numpy as np

SMALL_PRIMES = [p for p in range(2, 1000) if all(p % d for d in range(2, int(p**0.5) + 1))]
MR_BASES = (2, 3, 5, 7, 11, 13, 17)
MR_LIMIT = 341_550_071_728_321
"""Miller-Rabin with MR_BASES is exact below this bound (Jaeschke)."""


def is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin for n < MR_LIMIT."""
    assert n < MR_LIMIT
    if n < 2:
        return False
    for p in SMALL_PRIMES[:7]:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in MR_BASES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def primes_in(lo: int, hi: int) -> list[int]:
    """The primes in [lo, hi]: small factors struck out with numpy, the rest tested one by one."""
    lo = max(lo, 0)
    if hi < lo:
        return []
    numbers = np.arange(lo, hi + 1, dtype=np.int64)
    candidate = numbers >= 2
    for p in SMALL_PRIMES:
        candidate &= (numbers % p != 0) | (numbers == p)
    return [int(n) for n in numbers[candidate] if n < 1000**2 or is_prime(int(n))]
