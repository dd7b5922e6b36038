"""The combinatorial prime count against the sieve, in this process: many n up to 10^9,
the boundaries of its tables, and every split into 1 to 64 chunks.

The checks against an independent oracle (Debian's primecount) start a process, so they
are integration tests: tests/workloads/test_prime_counting_oracle.py.
"""

from __future__ import annotations

import itertools
import json
import random

import pytest

from chunkwise.workloads import prime_counting
from chunkwise.workloads.prime_counting import Plan, count_range, prime_count, split_ranges
from chunkwise.workloads.prime_kernels import count_primes_between

PRIMES_NEAR = (10_007, 30_011, 65_537, 999_983)


def sieved(n: int) -> int:
    return count_primes_between(1, n)


def boundary_values() -> list[int]:
    """Powers of ten, n next to a prime, squares and cubes of primes (where the φ
    recursion's cases meet), and n where y steps up."""
    values = [10**k for k in range(4, 10)]
    values += [p + d for p in PRIMES_NEAR for d in (-1, 0, 1)]
    values += [p * p + d for p in (101, 1_009, 10_007, 31_607) for d in (-1, 0, 1)]
    values += [p**3 + d for p in (23, 101, 997) for d in (-1, 0, 1)]
    for n in (10**6, 10**7, 10**8):
        y = Plan.for_x(n).y
        while Plan.for_x(n).y == y:
            n += 1
        values += [n - 1, n]
    return values


@pytest.mark.parametrize("n", boundary_values())
def test_the_boundaries_count_as_the_sieve_does(n: int) -> None:
    assert prime_count(n) == sieved(n)


def test_random_n_count_as_the_sieve_does() -> None:
    generator = random.Random(20)
    for n in [generator.randrange(10**4, 10**9) for _ in range(60)]:
        assert prime_count(n, generator.randrange(1, 9)) == sieved(n), n


@pytest.mark.parametrize("n", [10**8 + 7, 2 * 10**9 + 11])
def test_every_split_from_1_to_64_chunks_adds_up_exactly(n: int) -> None:
    expected = sieved(n)
    for chunks in range(1, 65):
        assert prime_count(n, chunks) == expected, chunks


def test_chunks_cover_the_interval_once_shorter_at_the_start() -> None:
    plan = Plan.for_x(10**15)
    ranges = split_ranges(plan, 32)
    assert ranges[0][0] == 1 and ranges[-1][1] == plan.z
    assert all(hi + 1 == lo for (_, hi), (lo, _) in itertools.pairwise(ranges))
    assert ranges[0][1] - ranges[0][0] < ranges[-1][1] - ranges[-1][0]


def test_a_partial_is_plain_json() -> None:
    plan = Plan.for_x(10**9)
    lo, hi = split_ranges(plan, 4)[0]
    partial = count_range(10**9, lo, hi, first=True)
    assert json.loads(json.dumps(partial)) == partial


def test_y_stays_between_the_cube_root_and_the_square_root() -> None:
    for x in (10**4, 10**9, 10**15, 10**17):
        y = prime_counting.tuned_y(x)
        assert prime_counting.icbrt(x) <= y <= x**0.5


@pytest.mark.parametrize("x", [10**9, 10**15, 10**17])
def test_the_work_estimates_of_a_split_add_up_to_the_whole_and_weigh_the_start(x: int) -> None:
    plan = Plan.for_x(x)
    ranges = split_ranges(plan, 32)
    work = [prime_counting.range_work(plan, lo, hi) for lo, hi in ranges]
    assert sum(work) == pytest.approx(1.0, abs=1e-9)
    per_number = [w / (hi - lo + 1) for w, (lo, hi) in zip(work, ranges, strict=True)]
    assert per_number[0] >= per_number[-1]
