"""The numba segmented sieve behind prime_count and prime_list.

Layout: a mod-30 wheel. Every prime above 5 is 30k + r for one of the eight residues r
coprime to 30, so the sieve keeps one byte per candidate in eight independent "rows",
one per residue; row r, index k stands for 30k + r. This skips 22 of every 30 numbers
and makes crossing off a prime p in a row a plain stride-p loop, which LLVM compiles to
tight code. Bytes rather than bits, because a byte store needs no read-modify-write.

Each row segment starts as a copy of a pre-sieved pattern that already has the
multiples of 7, 11, 13, 17 and 19 removed (the pattern repeats every 7*11*13*17*19
indices), which saves a quarter of the crossing-off work, the densest part. The remaining sieving
primes carry their next multiple from segment to segment, so a prime costs one compare
per segment it misses instead of a division.

Counting sieves row by row: a row segment stays in the 1 MiB L2 cache, and only one
row of state is alive. Listing must emit primes in order, so it sieves the eight rows
of a segment together and reads them column by column.

The base primes (up to sqrt(hi)) and their inverses of 30 are computed once per process
and grown on demand; see `base_primes`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from math import isqrt, log
from typing import Any

import numpy as np
import numpy.typing as npt

from chunkwise.workloads.jit import njit

Int64Array = npt.NDArray[np.int64]
UInt8Array = npt.NDArray[np.uint8]

WHEEL = 30
RESIDUES: tuple[int, ...] = (1, 7, 11, 13, 17, 19, 23, 29)
"""The residues mod 30 of numbers coprime to 30, ascending (listing relies on the order)."""
PRESIEVE_PRIMES: tuple[int, ...] = (7, 11, 13, 17, 19)
"""Primes whose multiples the segment pattern removes before sieving starts."""
PATTERN_PERIOD = 7 * 11 * 13 * 17 * 19

COUNT_SEGMENT_SMALL = 1 << 18
"""Row-segment bytes while sqrt(hi) is small: few sieving primes; a quarter of L2."""
COUNT_SEGMENT_LARGE = 1 << 20
"""Row-segment bytes once sqrt(hi) reaches LARGE_SEGMENT_FROM: each of the many large
primes costs a compare per segment, so longer segments amortise them (0.56 s -> 0.38 s
for [1e12, 1e12 + 1e9) against 256 KiB), while near 0 they were 15% slower."""
LARGE_SEGMENT_FROM = 1 << 18
LIST_SEGMENT = 1 << 15
"""Bytes per row when listing: eight rows are alive at once (256 KiB in all)."""
MIN_BASE_LIMIT = 1 << 16
"""Smallest base-prime table built; growth at least doubles the bound."""


@dataclass(frozen=True)
class BasePrimes:
    """The primes above the pre-sieve primes up to `limit`, with 30^-1 mod each."""

    limit: int
    primes: Int64Array
    inverses: Int64Array

    def upto(self, bound: int) -> tuple[Int64Array, Int64Array]:
        """Views of the sieving primes <= bound and their inverses."""
        end = int(np.searchsorted(self.primes, bound, side="right"))
        return self.primes[:end], self.inverses[:end]


@njit
def _primes_upto(limit: int) -> Int64Array:  # pragma: no cover - compiled
    """All primes <= limit by a plain odd-only sieve (only used for base primes)."""
    if limit < 2:
        return np.zeros(0, dtype=np.int64)
    size = (limit - 1) // 2  # index i stands for 2i + 3
    flags = np.ones(max(size, 0), dtype=np.uint8)
    i = 0
    while (2 * i + 3) * (2 * i + 3) <= limit:
        if flags[i]:
            p = 2 * i + 3
            for j in range((p * p - 3) // 2, size, p):
                flags[j] = 0
        i += 1
    count = 1
    for i in range(size):
        count += flags[i]
    out = np.empty(count, dtype=np.int64)
    out[0] = 2
    m = 1
    for i in range(size):
        if flags[i]:
            out[m] = 2 * i + 3
            m += 1
    return out


@njit
def _inverses_of_30(primes: Int64Array) -> Int64Array:  # pragma: no cover - compiled
    """30^-1 mod p for each prime p > 5, by the extended Euclidean algorithm."""
    out = np.empty(primes.size, dtype=np.int64)
    for i in range(primes.size):
        p = primes[i]
        old_r, r = 30 % p, p
        old_s, s = 1, 0
        while r != 0:
            q = old_r // r
            old_r, r = r, old_r - q * r
            old_s, s = s, old_s - q * s
        out[i] = old_s % p
    return out


_base_lock = threading.Lock()
_base: BasePrimes | None = None


def base_primes(bound: int) -> BasePrimes:
    """A table of sieving primes covering `bound`, shared by every call in this process.

    Chunks of one job need nearly the same bound, so the table is built once and grown
    (to at least twice its old bound) only when a chunk needs a larger one.
    """
    global _base
    table = _base
    if table is not None and table.limit >= bound:
        return table
    with _base_lock:
        table = _base
        if table is None or table.limit < bound:
            limit = max(bound, MIN_BASE_LIMIT, 2 * table.limit if table else 0)
            primes = _primes_upto(limit)
            primes = primes[primes > PRESIEVE_PRIMES[-1]]
            table = BasePrimes(limit, primes, _inverses_of_30(primes))
            _base = table
    return table


def _build_patterns() -> UInt8Array:
    """Row r of the result: 1 where 30k + r has no factor in PRESIEVE_PRIMES, k < period."""
    k = np.arange(PATTERN_PERIOD, dtype=np.int64)
    rows = np.empty((len(RESIDUES), PATTERN_PERIOD), dtype=np.uint8)
    for row, r in enumerate(RESIDUES):
        values = WHEEL * k + r
        keep = np.ones(PATTERN_PERIOD, dtype=np.bool_)
        for p in PRESIEVE_PRIMES:
            keep &= values % p != 0
        rows[row] = keep
    return rows


_patterns: UInt8Array | None = None


def patterns() -> UInt8Array:
    """The pre-sieve patterns, built on first use (2.6 MB, 40 ms)."""
    global _patterns
    if _patterns is None:
        _patterns = _build_patterns()
    return _patterns


@njit
def _first_offsets(
    r: int, kstart: int, primes: Int64Array, inverses: Int64Array, nxt: Int64Array
) -> None:  # pragma: no cover - compiled
    """For each prime p, the offset from kstart of the first k with p | 30k + r, 30k + r >= p*p."""
    for i in range(primes.size):
        p = primes[i]
        c = ((p - r % p) * inverses[i]) % p  # 30k + r = 0 (mod p)  <=>  k = c (mod p)
        k_square = (p * p - r + WHEEL - 1) // WHEEL
        s = kstart if kstart > k_square else k_square
        nxt[i] = s + (c - s) % p - kstart


@njit
def _fill_from_pattern(
    buf: UInt8Array, n: int, pattern: UInt8Array, k: int
) -> None:  # pragma: no cover - compiled
    """buf[:n] = the pattern for indices k .. k + n - 1, wrapping around its period."""
    period = pattern.size
    off = k % period
    pos = 0
    while pos < n:
        m = min(period - off, n - pos)
        # Views indexed by a range variable: LLVM then knows the index is non-negative,
        # drops numba's negative-index wraparound and vectorises the copy. Slice
        # assignment and `buf[pos + j]` are both 20-40x slower.
        dst = buf[pos : pos + m]
        src = pattern[off : off + m]
        for j in range(m):
            dst[j] = src[j]
        pos += m
        off = 0


@njit
def _cross_off(
    buf: UInt8Array, n: int, primes: Int64Array, nxt: Int64Array
) -> None:  # pragma: no cover - compiled
    """Clear the multiples of every prime in buf[:n]; carry each prime's next offset on.

    This loop is nearly all of the time. Its index is unsigned so that numba emits no
    negative-index wraparound test per store (15% faster). Blocking the small primes to
    L1-sized pieces was tried and was slower.
    """
    end = np.uint64(n)
    for i in range(primes.size):
        p = np.uint64(primes[i])
        j = np.uint64(nxt[i])
        while j < end:
            buf[j] = 0
            j += p
        nxt[i] = np.int64(j - end)


@njit
def _count_row(
    r: int,
    kmin: int,
    kmax: int,
    primes: Int64Array,
    inverses: Int64Array,
    pattern: UInt8Array,
    segment: int,
) -> int:  # pragma: no cover - compiled
    """The number of primes 30k + r with kmin <= k <= kmax (r coprime to 30)."""
    buf = np.empty(segment, dtype=np.uint8)
    nxt = np.empty(primes.size, dtype=np.int64)
    _first_offsets(r, kmin, primes, inverses, nxt)
    total = 0
    k = kmin
    while k <= kmax:
        n = min(segment, kmax - k + 1)
        _fill_from_pattern(buf, n, pattern, k)
        if k == 0:
            buf[0] = 0 if r == 1 else 1  # 1 is not prime; 7..29 are, pre-sieved or not
        _cross_off(buf, n, primes, nxt)
        for j in range(n):
            total += buf[j]
        k += n
    return total


def _small_primes_in(lo: int, hi: int) -> list[int]:
    """The primes 2, 3, 5 that lie in [lo, hi]: the wheel rows never hold them."""
    return [p for p in (2, 3, 5) if lo <= p <= hi]


def count_primes_numba(lo: int, hi: int) -> int:
    """The number of primes p with lo <= p <= hi, by the wheel sieve."""
    lo = max(lo, 0)
    if hi < max(lo, 2):
        return 0
    root = isqrt(hi)
    primes, inverses = base_primes(root).upto(root)
    pattern_rows = patterns()
    segment = COUNT_SEGMENT_LARGE if root >= LARGE_SEGMENT_FROM else COUNT_SEGMENT_SMALL
    total = len(_small_primes_in(lo, hi))
    for row, r in enumerate(RESIDUES):
        kmin = max(0, -((r - lo) // WHEEL))  # ceil((lo - r) / 30)
        kmax = (hi - r) // WHEEL
        if kmin <= kmax:
            total += int(_count_row(r, kmin, kmax, primes, inverses, pattern_rows[row], segment))
    return total


@njit
def _sieve_rows(
    buf: UInt8Array,
    n: int,
    k: int,
    primes: Int64Array,
    nxt: Int64Array,
    pattern_rows: UInt8Array,
    residues: Int64Array,
) -> int:  # pragma: no cover - compiled
    """Sieve indices k .. k + n - 1 of every row into buf[row, :n]; the candidates left."""
    found = 0
    for row in range(residues.size):
        line = buf[row]
        _fill_from_pattern(line, n, pattern_rows[row], k)
        if k == 0:
            line[0] = 0 if residues[row] == 1 else 1
        _cross_off(line, n, primes, nxt[row])
        for j in range(n):
            found += line[j]
    return found


@njit
def _emit(
    buf: UInt8Array, n: int, k: int, lo: int, hi: int, residues: Int64Array, out: Int64Array, m: int
) -> int:  # pragma: no cover - compiled
    """Append the numbers in [lo, hi] left in buf[:, :n] to out[m:], ascending; the new m."""
    for j in range(n):
        base = WHEEL * (k + j)
        for row in range(residues.size):
            if buf[row, j]:
                value = base + residues[row]
                if lo <= value <= hi:
                    out[m] = value
                    m += 1
    return m


@njit
def _list_range(
    lo: int,
    hi: int,
    primes: Int64Array,
    inverses: Int64Array,
    pattern_rows: UInt8Array,
    residues: Int64Array,
    segment: int,
    capacity: int,
) -> Int64Array:  # pragma: no cover - compiled
    """The primes > 5 in [lo, hi], ascending; `capacity` is a first guess at their number."""
    kmin = lo // WHEEL
    kmax = hi // WHEEL
    buf = np.empty((residues.size, segment), dtype=np.uint8)
    nxt = np.empty((residues.size, primes.size), dtype=np.int64)
    for row in range(residues.size):
        _first_offsets(residues[row], kmin, primes, inverses, nxt[row])
    out = np.empty(max(capacity, 16), dtype=np.int64)
    m = 0
    k = kmin
    while k <= kmax:
        n = min(segment, kmax - k + 1)
        found = _sieve_rows(buf, n, k, primes, nxt, pattern_rows, residues)
        if m + found > out.size:
            grown = np.empty(max(2 * out.size, m + found), dtype=np.int64)
            grown[:m] = out[:m]
            out = grown
        m = _emit(buf, n, k, lo, hi, residues, out, m)
        k += n
    return out[:m].copy()


def estimated_prime_count(lo: int, hi: int) -> int:
    """A guess, usually a little high, at the number of primes in [lo, hi], to size arrays.

    The smaller of pi(hi) <= 1.26 hi / ln hi (Rosser and Schoenfeld) and the interval's
    width over ln lo with 10% to spare; an underestimate only costs a reallocation.
    """
    lo = max(lo, 0)
    if hi < max(lo, 2):
        return 0
    by_hi = 1.26 * hi / log(max(hi, 17))
    by_width = 1.1 * (hi - lo + 1) / log(max(lo, 17))
    return int(min(by_hi, by_width)) + 64


def list_primes_numba(lo: int, hi: int) -> Int64Array:
    """The primes p with lo <= p <= hi, ascending, by the wheel sieve."""
    lo = max(lo, 0)
    if hi < max(lo, 2):
        return np.zeros(0, dtype=np.int64)
    small = np.array(_small_primes_in(lo, hi), dtype=np.int64)
    if hi < 7:
        return small
    root = isqrt(hi)
    primes, inverses = base_primes(root).upto(root)
    residues = np.array(RESIDUES, dtype=np.int64)
    capacity = estimated_prime_count(lo, hi)
    found: Any = _list_range(lo, hi, primes, inverses, patterns(), residues, LIST_SEGMENT, capacity)
    return np.concatenate((small, found))
