"""π(x) without sieving to x: the Lagarias–Miller–Odlyzko method, split over chunks.

A sieve touches every number up to x. The combinatorial methods count the primes up to x
from the primes up to about x^(2/3) only:

    π(x) = φ(x, a) + a − 1 − P2(x, a),   a = π(y),   x^(1/3) <= y <= x^(1/2)

φ(x, a) counts the integers <= x with no prime factor among the first a primes; P2 the
integers <= x with exactly two prime factors, both above y. φ(x, a) expands into leaves
μ(n)·φ(x/n, b): the ordinary leaves (n <= y) take O(y) time; the special leaves
(n = p_b·m, m <= y < n) need φ(t, b − 1) for t < z = x/y, which a segmented sieve of
[1, z] gives as it crosses off the primes one after another, counting survivors with
block counters. P2 needs π(t) for t in [√x, z], which the same sieve gives once every
prime up to √t is crossed off.

References:
- J. C. Lagarias, V. S. Miller, A. M. Odlyzko, "Computing π(x): the Meissel-Lehmer
  method", Mathematics of Computation 44 (1985), 537–560.
- M. Deléglise, J. Rivat, "Computing π(x): the Meissel, Lehmer, Lagarias, Miller,
  Odlyzko method", Mathematics of Computation 65 (1996), 235–245: the segmented sieve
  with counters, and y = α·x^(1/3) with α tuned to grow slowly with x.
- X. Gourdon, "Computation of π(x): improvements to the Meissel, Lehmer, Lagarias,
  Miller, Odlyzko, Deléglise and Rivat method" (2001).

Distribution. The sieve interval [1, z] is cut into contiguous ranges, one a chunk,
shorter at the start where the special leaves are dense. A leaf's φ(t, b − 1) is the
survivors before the chunk's range plus those inside it; the chunk cannot know the
first, so it returns, for each b, its leaves' μ-sum `M[b]` and its range's survivor
count `C[b]`; combining adds every chunk's local sum and `−M[b] × (C[b] of the chunks
before it)`, exactly, in Python integers. P2 is split the same way with prime counts.

Memory per chunk: the tables up to y (least prime factor as int32, μ as int8, π as
int32: 9 bytes a number) and two segment buffers. At x = 10^17, y ≈ 6·10^6: about 60 MiB.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from chunkwise.workloads.jit import njit

PHI_C = 6
"""φ(t, c) for the first c primes comes from a table over their product, 30030."""
SEGMENT = 1 << 18
"""Sieve segment length (numbers), a byte each: a few hundred KiB, in L2."""
BLOCK_BITS = 9
"""Survivors are counted per block of 512 numbers, so a count costs a block scan at most."""
BLOCK = 1 << BLOCK_BITS
BLOCK_MASK = BLOCK - 1


@dataclass(frozen=True)
class Plan:
    """The sizes every chunk of one π(x) computation agrees on."""

    x: int
    y: int
    z: int

    @classmethod
    def for_x(cls, x: int) -> Plan:
        y = tuned_y(x)
        return cls(x, y, x // y)


ALPHA_SCALE = 0.0084
"""α = ALPHA_SCALE·ln(x)²: 10 at x = 10^15, where 10 was fastest of 5, 10, 20, 40 here."""


def tuned_y(x: int) -> int:
    """y = α·x^(1/3), with α growing like log(x)^2 as Deléglise and Rivat advise, held
    inside [x^(1/3), x^(1/2)]; the constant was measured here (bench/kernels.py)."""
    cube = icbrt(x)
    log = math.log(max(x, 16))
    alpha = max(1.0, ALPHA_SCALE * log * log)
    y = int(cube * alpha)
    return max(cube, min(y, math.isqrt(x)))


def icbrt(x: int) -> int:
    """The largest r with r^3 <= x."""
    r: int = round(x ** (1 / 3))
    while r * r * r > x:
        r -= 1
    while (r + 1) ** 3 <= x:
        r += 1
    return r


def split_ranges(plan: Plan, chunks: int) -> list[tuple[int, int]]:
    """Contiguous inclusive ranges of [1, z], one a chunk, roughly equal in work.

    Two kinds of work lie along [1, z]: the sieve's, even along it, and the special
    leaves', whose density falls off like 1/t from the start. So half the boundaries are
    even (equal sieve work) and half geometric from the first segment to z/4 (equal leaf
    work); each chunk then holds at most about 2/K of either. Coinciding boundaries are
    merged, so a small x may give fewer chunks than asked for.
    """
    z = plan.z
    first, last = SEGMENT, z // 4
    geometric = chunks // 2 if last > 2 * first else 0  # a small z is one segment or so
    even = chunks - geometric
    points = {z * k // even for k in range(1, even)}
    if geometric:
        ratio = (last / first) ** (1 / geometric)
        points |= {int(first * ratio**k) for k in range(geometric)}
    bounds = [0, *sorted(point for point in points if 0 < point < z), z]
    return [(lo + 1, hi) for lo, hi in itertools.pairwise(bounds)]


SIEVE_SHARE = 0.4
"""Of a π(x) job's work, the part spread evenly along [1, z] (the sieve); the rest are the
leaves, spread log-uniformly over [SEGMENT/4, z/4]. Measured at 10^15: 35-45 %."""


def range_work(plan: Plan, lo: int, hi: int) -> float:
    """The estimated share of the job's work in the range [lo, hi] of [1, z]."""
    z = plan.z
    sieve = SIEVE_SHARE * (hi - lo + 1) / z
    first, last = SEGMENT / 4, max(z / 4, SEGMENT / 2)
    start, end = min(max(lo, first), last), min(max(hi + 1, first), last)
    leaves = (1 - SIEVE_SHARE) * math.log(end / start) / math.log(last / first)
    return sieve + leaves


@njit
def _tables(y: int) -> tuple[Any, Any, Any, Any]:
    """Least prime factor (1 has y + 1), μ and π up to y, and the primes (1-indexed)."""
    lpf = np.zeros(y + 1, np.int32)
    mu = np.ones(y + 1, np.int8)
    for i in range(2, y + 1):
        if lpf[i] == 0:
            for j in range(i, y + 1, i):
                if lpf[j] == 0:
                    lpf[j] = i
                mu[j] = -mu[j]
            square = i * i
            for j in range(square, y + 1, square):
                mu[j] = 0
    lpf[1] = y + 1
    pi = np.zeros(y + 1, np.int32)
    count = 0
    for i in range(2, y + 1):
        if lpf[i] == i:
            count += 1
        pi[i] = count
    primes = np.zeros(count + 1, np.int64)
    k = 0
    for i in range(2, y + 1):
        if lpf[i] == i:
            k += 1
            primes[k] = i
    return lpf, mu, pi, primes


@njit
def _phi_table(primes: Any, c: int) -> tuple[Any, int]:
    """For the first c primes: table[r] = integers in [1, r] free of them, and their product."""
    product = 1
    for b in range(1, c + 1):
        product *= primes[b]
    free = np.ones(product + 1, np.int8)
    free[0] = 0
    for b in range(1, c + 1):
        for j in range(0, product + 1, primes[b]):
            free[j] = 0
    table = np.zeros(product + 1, np.int64)
    for r in range(1, product + 1):
        table[r] = table[r - 1] + free[r]
    return table, product


@njit
def _ordinary_leaves(x: int, y: int, c: int, lpf: Any, mu: Any, primes: Any) -> int:
    """S1: the sum of μ(n)·φ(x/n, c) over square-free n <= y free of the first c primes."""
    table, product = _phi_table(primes, c)
    per_period = table[product]
    bound = primes[c] if c > 0 else 1
    total = 0
    for n in range(1, y + 1):
        if mu[n] != 0 and lpf[n] > bound:
            t = x // n
            total += mu[n] * ((t // product) * per_period + table[t % product])
    return total


@njit
def _isqrt(n: int) -> int:
    r = int(np.sqrt(np.float64(n)))
    while r * r > n:
        r -= 1
    while (r + 1) * (r + 1) <= n:
        r += 1
    return r


@njit
def _cross_off(sieve: Any, counters: Any, low: int, size: int, p: int, count: bool) -> int:
    """Cross off the multiples of p in the segment [low, low + size), p itself included;
    returns how many were still standing."""
    start = ((low + p - 1) // p) * p
    step = p
    if p > 2:  # even multiples are gone with 2: visit the odd ones only
        if start % 2 == 0:
            start += p
        step = 2 * p
    removed = 0
    if count:  # branch-free: half the visits find the number already gone
        for j in range(start - low, size, step):
            standing = sieve[j]
            counters[j >> BLOCK_BITS] -= standing
            removed += standing
            sieve[j] = 0
        return removed
    for j in range(start - low, size, step):
        removed += sieve[j]
        sieve[j] = 0
    return removed


@njit
def _strike(sieve: Any, low: int, size: int, p: int) -> None:
    """Cross off the odd multiples of an odd p, uncounted: the fastest loop, for primes
    no leaf of this segment needs counted."""
    start = ((low + p - 1) // p) * p
    if start % 2 == 0:
        start += p
    for j in range(start - low, size, 2 * p):
        sieve[j] = 0


@njit
def _coprime_pattern(primes: Any, c: int) -> Any:
    """Two periods of "free of the first c primes" (1 or 0), from 0: a segment is filled
    by copying from it instead of crossing those primes off."""
    product = 1
    for b in range(1, c + 1):
        product *= primes[b]
    pattern = np.ones(2 * product, np.uint8)
    for b in range(1, c + 1):
        for j in range(0, 2 * product, primes[b]):
            pattern[j] = 0
    return pattern


@njit
def _fill(sieve: Any, pattern: Any, low: int, size: int) -> None:
    """sieve[j] = pattern at low + j, period by period."""
    period = len(pattern) // 2
    offset = low % period
    j = 0
    while j < size:
        length = min(period, size - j)
        sieve[j : j + length] = pattern[offset : offset + length]
        j += length


@njit
def _survivors(sieve: Any, start: int, end: int) -> int:
    """Numbers still standing in sieve[start:end] (a vectorised sum)."""
    return int(np.sum(sieve[start:end], dtype=np.int64)) if end > start else 0


@njit
def _leaf_ms(
    p: int, b: int, m_low: int, m_high: int, y: int, lpf: Any, mu: Any, primes: Any, pi: Any
) -> tuple[Any, Any]:
    """The m of p's special leaves in (m_low, m_high], descending, with their μ(m): square-
    free, every prime factor above p. When p^3 > y an m has at most two prime factors, so
    they are listed from the primes (μ = -1) and products of two (μ = +1) without
    scanning the range."""
    if m_high <= m_low:
        return np.empty(0, np.int64), np.empty(0, np.int8)
    if p * p * p <= y:
        count = 0
        for m in range(m_high, m_low, -1):
            if mu[m] != 0 and lpf[m] > p:
                count += 1
        ms = np.empty(count, np.int64)
        mus = np.empty(count, np.int8)
        k = 0
        for m in range(m_high, m_low, -1):
            if mu[m] != 0 and lpf[m] > p:
                ms[k] = m
                mus[k] = mu[m]
                k += 1
        return ms, mus
    first = max(int(pi[m_low]), b) + 1
    last = int(pi[m_high])
    count = max(0, last - first + 1)
    j = b + 1
    while j < len(primes) and primes[j] * primes[j] < m_high:
        q = primes[j]
        r_first = max(j, int(pi[m_low // q])) + 1
        r_last = int(pi[m_high // q])
        if r_last >= r_first:
            count += r_last - r_first + 1
        j += 1
    ms = np.empty(count, np.int64)
    k = 0
    for i in range(first, last + 1):
        ms[k] = primes[i]
        k += 1
    j = b + 1
    while j < len(primes) and primes[j] * primes[j] < m_high:
        q = primes[j]
        for i in range(max(j, int(pi[m_low // q])) + 1, int(pi[m_high // q]) + 1):
            ms[k] = q * primes[i]
            k += 1
        j += 1
    ms = -np.sort(-ms)
    mus = np.empty(count, np.int8)
    for i in range(count):
        mus[i] = mu[ms[i]]
    return ms, mus


@njit
def _leaf_bounds(x: int, y: int, p: int, low: int, high: int) -> tuple[int, int]:
    """The m of p's special leaves whose argument x/(p·m) is in [low, high): (m_low, m_high]."""
    return max(x // (p * high), y // p), min(x // (p * low), y)


@njit
def _range_sums(
    x: int, y: int, c: int, lo: int, hi: int, lpf: Any, mu: Any, pi: Any, primes: Any
) -> tuple[int, int, int, int, int, Any, Any]:
    """The special leaves and P2 terms whose argument lies in [lo, hi].

    A leaf μ(m)·φ(t, b − 1) with t = x/(p_b·m) is exact when t < p_b (φ = 1) or when
    t < p_b² and t <= y (φ = π(t) − b + 2 from the table). Otherwise it is counted in
    this range only: by the sieve while it holds the first b − 1 primes (M[b] collects
    its μ, the combiner adds μ × C[b] of the ranges before), or, once t < p_b², from the
    range's prime counts (`pi_weighted` collects its μ, to add μ × the primes before).

    Returns (s2, pi_weighted, p2, p2_terms, primes_in_range, C, M).
    """
    a = len(primes) - 1
    sqrt_x = _isqrt(x)
    c_counts = np.zeros(a + 2, np.int64)
    m_sums = np.zeros(a + 2, np.int64)
    phi_local = np.zeros(a + 2, np.int64)
    sieve = np.empty(SEGMENT, np.uint8)
    counters = np.zeros((SEGMENT >> BLOCK_BITS) + 1, np.int64)
    prefix = np.empty(SEGMENT, np.int32)
    pattern = _coprime_pattern(primes, c)
    s2 = 0
    pi_weighted = 0
    p2 = 0
    p2_terms = 0
    pi_local = 0
    low = lo
    while low <= hi:
        high = min(low + SEGMENT, hi + 1)
        size = high - low
        leaf_b = min(a - 1, int(pi[min(y, _isqrt(x // low))]))
        prime_b = int(pi[min(y, _isqrt(high - 1))])
        if prime_b >= c:  # the first c primes come crossed off from the pattern
            _fill(sieve, pattern, low, size)
            alive = _survivors(sieve, 0, size)
        else:
            sieve[:size] = 1
            alive = size
            for b in range(1, prime_b + 1):
                alive -= _cross_off(sieve, counters, low, size, primes[b], False)
        blocks = (size + BLOCK - 1) >> BLOCK_BITS
        for k in range(blocks):
            counters[k] = _survivors(sieve, k << BLOCK_BITS, min((k + 1) << BLOCK_BITS, size))
        # Leaves of b <= prime_b, while the sieve holds the first b - 1 primes.
        counted_b = min(prime_b, leaf_b)
        for b in range(c + 1, prime_b + 1):
            p = primes[b]
            if b > counted_b:  # no leaf of this segment needs these counted
                _strike(sieve, low, size, p)
                continue
            if b <= leaf_b:
                m_low, m_high = _leaf_bounds(x, y, p, low, high)
                ms, mus = _leaf_ms(p, b, m_low, m_high, y, lpf, mu, primes, pi)
                position = 0
                counted = 0
                for i in range(len(ms)):
                    m, sign = ms[i], mus[i]
                    t = x // (p * m)
                    if t < p:
                        s2 -= sign
                    elif t < p * p and t <= y:
                        s2 -= sign * (pi[t] - b + 2)
                    else:
                        target = t - low
                        while position <= target:
                            if (position & BLOCK_MASK) == 0 and position + BLOCK <= target + 1:
                                counted += counters[position >> BLOCK_BITS]
                                position += BLOCK
                            else:
                                counted += sieve[position]
                                position += 1
                        s2 -= sign * (phi_local[b] + counted)
                        m_sums[b] += sign
            c_counts[b] += alive
            phi_local[b] += alive
            alive -= _cross_off(sieve, counters, low, size, p, True)
        # Every prime up to sqrt(high) is crossed off: the survivors are 1 and primes.
        # Leaves past prime_b read π(t) often, from a prefix count; above sqrt x only P2's
        # few targets do, from running sums.
        with_prefix = leaf_b > max(c, prime_b)
        if with_prefix:
            running = 0
            for j in range(size):
                running += sieve[j]
                prefix[j] = running
            alive = running
        else:
            alive = _survivors(sieve, 0, size)
        ones = 1 if low == 1 else 0
        top = min(high - 1, int(primes[prime_b])) if prime_b > 0 else 0
        crossed_here = int(pi[top]) - int(pi[low - 1]) if low - 1 <= y and top >= low else 0
        # Leaves of b > prime_b: t < high <= p_b², so φ(t, b - 1) = π(t) - b + 2.
        for b in range(max(c, prime_b) + 1, leaf_b + 1):
            p = primes[b]
            m_low, m_high = _leaf_bounds(x, y, p, low, high)
            if m_high <= m_low:
                continue
            if p * p > y:  # m must be a prime above p: walk the primes
                first = max(int(pi[m_low]), b) + 1
                last = int(pi[m_high])
                trivial_from = int(pi[min(y, x // (p * p))]) + 1  # from here on t < p
                if last >= max(first, trivial_from):
                    s2 += last - max(first, trivial_from) + 1  # μ(m) = -1, φ = 1
                for j in range(min(last, trivial_from - 1), first - 1, -1):
                    t = x // (p * primes[j])
                    if t <= y:
                        s2 += pi[t] - b + 2
                    else:
                        s2 += pi_local + prefix[t - low] - ones + crossed_here - b + 2
                        pi_weighted -= 1
                continue
            ms, mus = _leaf_ms(p, b, m_low, m_high, y, lpf, mu, primes, pi)
            for i in range(len(ms)):
                m, sign = ms[i], mus[i]
                t = x // (p * m)
                if t < p:
                    s2 -= sign
                elif t <= y:
                    s2 -= sign * (pi[t] - b + 2)
                else:
                    s2 -= sign * (pi_local + prefix[t - low] - ones + crossed_here - b + 2)
                    pi_weighted += sign
        # C[b] past prime_b: the survivors less the primes p_(prime_b+1)..p_(b-1) here
        # (later segments of this range may still have sieve-counted leaves of b).
        if leaf_b > prime_b:
            first_here = int(pi[min(low - 1, y)])
            last_here = int(pi[min(high - 1, y)])
            for b in range(max(c, prime_b) + 1, leaf_b + 1):
                gone = min(b - 1, last_here) - max(prime_b, first_here)
                free = alive - (gone if gone > 0 else 0)
                c_counts[b] += free
                phi_local[b] += free
        # P2: Σ π(x/p) over the primes p in (y, sqrt x] with x/p in [low, high).
        p_first = max(y, x // high) + 1
        p_last = min(sqrt_x, x // low)
        if p_first <= p_last:
            candidates = _primes_between(p_first, p_last, primes)
            position = 0
            counted = 0
            for k in range(len(candidates) - 1, -1, -1):  # ascending x/p
                target = x // candidates[k] - low
                if with_prefix:
                    counted = prefix[target]
                else:
                    counted += _survivors(sieve, position, target + 1)
                    position = target + 1
                p2 += pi_local + counted - ones + crossed_here
                p2_terms += 1
        pi_local += alive - ones + crossed_here
        low = high
    return s2, pi_weighted, p2, p2_terms, pi_local, c_counts, m_sums


@njit
def _primes_between(lo: int, hi: int, primes: Any) -> Any:
    """The primes in [lo, hi], sieved by the table's primes (hi <= sqrt x, and the table
    reaches y >= x^(1/3) > sqrt(hi))."""
    size = hi - lo + 1
    flags = np.ones(size, np.uint8)
    for b in range(1, len(primes)):
        p = primes[b]
        if p * p > hi:
            break
        start = max(p * p, ((lo + p - 1) // p) * p)
        for j in range(start - lo, size, p):
            flags[j] = 0
    count = 0
    for j in range(size):
        if flags[j] and lo + j >= 2:
            count += 1
    found = np.empty(count, np.int64)
    k = 0
    for j in range(size):
        if flags[j] and lo + j >= 2:
            found[k] = lo + j
            k += 1
    return found


@functools.lru_cache(maxsize=1)
def tables_upto(y: int) -> tuple[Any, Any, Any, Any]:
    """The tables up to y, kept for the next chunk of the same job in this process
    (a worker takes many): at x = 10^15 they cost 25 ms a chunk otherwise."""
    return _tables(y)


def count_range(x: int, lo: int, hi: int, *, first: bool) -> dict[str, Any]:
    """One chunk's partial: its range [lo, hi] of [1, z]; the first chunk adds S1 and a."""
    plan = Plan.for_x(x)
    lpf, mu, pi, primes = tables_upto(plan.y)
    a = len(primes) - 1
    c = min(PHI_C, a)
    s2, pi_weighted, p2, p2_terms, primes_in_range, c_counts, m_sums = _range_sums(
        x, plan.y, c, lo, hi, lpf, mu, pi, primes
    )
    leaves_after = int(pi[min(plan.y, math.isqrt(x // (hi + 1)))]) if hi < plan.z else 0
    need_c = min(a - 1, max(leaves_after, c))
    need_m = int(np.flatnonzero(m_sums).max()) if m_sums.any() else c
    partial: dict[str, Any] = {
        "s2": int(s2),
        "s2_pi": int(pi_weighted),
        "p2": int(p2),
        "p2_terms": int(p2_terms),
        "primes": int(primes_in_range),
        "C": [int(v) for v in c_counts[c + 1 : need_c + 1]],
        "M": [int(v) for v in m_sums[c + 1 : need_m + 1]],
    }
    if first:
        from chunkwise.workloads.prime_kernels import count_primes_between

        partial["s1"] = int(_ordinary_leaves(x, plan.y, c, lpf, mu, primes))
        partial["a"] = a
        partial["b"] = count_primes_between(2, math.isqrt(x))
    return partial


def combine_ranges(x: int, partials: Sequence[dict[str, Any]]) -> int:
    """π(x) from the chunks' partials, in range order."""
    phi_before: list[int] = []
    primes_before = 0
    s2 = p2 = 0
    s1 = a = b = None
    for partial in partials:
        s2 += int(partial["s2"])
        for offset, m_sum in enumerate(partial["M"]):
            if m_sum:
                before = phi_before[offset] if offset < len(phi_before) else 0
                s2 -= int(m_sum) * before
        s2 -= int(partial["s2_pi"]) * primes_before
        p2 += int(partial["p2"]) + int(partial["p2_terms"]) * primes_before
        primes_before += int(partial["primes"])
        counts = partial["C"]
        if len(phi_before) < len(counts):
            phi_before.extend([0] * (len(counts) - len(phi_before)))
        for offset, count in enumerate(counts):
            phi_before[offset] += int(count)
        if "s1" in partial:
            s1, a, b = int(partial["s1"]), int(partial["a"]), int(partial["b"])
    if s1 is None or a is None or b is None:
        raise ValueError("the first chunk's partial is missing")
    # P2 = Σ over b in (a, B] of π(x/p_b) − (b − 1); the chunks summed the π terms.
    p2 -= (b - 1) * b // 2 - (a - 1) * a // 2
    return s1 + s2 + a - 1 - p2


def prime_count(x: int, chunks: int = 1) -> int:
    """π(x) in this process, split as a job of `chunks` chunks would be (for tests)."""
    ranges = split_ranges(Plan.for_x(x), chunks)
    partials = [count_range(x, lo, hi, first=index == 0) for index, (lo, hi) in enumerate(ranges)]
    return combine_ranges(x, partials)


def warm_up_counting() -> None:
    """Compile or load every kernel, on an x small enough to take milliseconds."""
    prime_count(10**7, 3)
