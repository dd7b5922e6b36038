"""prime_count: the sieve kernels against known values of pi(x) and an independent oracle."""

from __future__ import annotations

import itertools
import random
from math import isqrt

import pytest
from pydantic import ValidationError

from chunkwise.workloads import get_workload, prime_kernels
from chunkwise.workloads.prime_kernels import count_primes_between
from chunkwise.workloads.primes import PrimeCountParams
from chunkwise.workloads.sieve import base_primes, list_primes_numba
from chunkwise.workloads.sieve_numpy import count_primes_numpy, list_primes_numpy
from tests.workloads.oracles import primes_in

WORKLOAD = get_workload("prime_count")


def pi_by_workload(n: int, chunks: int) -> int:
    """pi(n) the way the system computes it: split, run every chunk, combine."""
    params = PrimeCountParams.model_construct(n=n)  # below the API minimum for small n
    partials = [WORKLOAD.run_chunk(chunk) for chunk in WORKLOAD.split(params, chunks)]
    result: int = WORKLOAD.combine(params, partials)["prime_count"]
    return result


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (10, 4),
        (100, 25),
        (10**4, 1229),
        (10**6, 78498),
        (10**8, 5761455),
        (10**9, 50847534),
        (2**32, 203280221),
    ],
)
@pytest.mark.parametrize("chunks", [1, 3, 8])
def test_pi_through_the_workload(n: int, expected: int, chunks: int) -> None:
    assert pi_by_workload(n, chunks) == expected


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),  # counted by primesieve 11.0
    [
        (10**12, 10**12 + 10**8, 3618282),
        (10**12 - 10**6, 10**12 + 10**6, 72649),
        (10**13 - 10**7, 10**13, 334199),
        (999_000_000, 10**9, 47957),
    ],
)
def test_far_ranges_match_primesieve(lo: int, hi: int, expected: int) -> None:
    assert count_primes_between(lo, hi) == expected


def _random_intervals(count: int, seed: int) -> list[tuple[int, int]]:
    """Short intervals whose ends are spread log-uniformly up to 1e12."""
    rng = random.Random(seed)
    intervals = []
    for _ in range(count):
        a = int(10 ** rng.uniform(0, 12))
        width = int(10 ** rng.uniform(0, 4.3))
        intervals.append((a, min(a + width, 10**12)))
    return intervals


@pytest.mark.parametrize(("lo", "hi"), _random_intervals(200, seed=20240601))
def test_random_intervals_against_the_oracle(lo: int, hi: int) -> None:
    expected = primes_in(lo, hi)
    assert count_primes_between(lo, hi) == len(expected)
    assert list_primes_numba(lo, hi).tolist() == expected


@pytest.mark.parametrize(("lo", "hi"), _random_intervals(12, seed=7))
def test_numpy_fallback_agrees(lo: int, hi: int) -> None:
    expected = primes_in(lo, hi)
    assert count_primes_numpy(lo, hi) == len(expected)
    assert list_primes_numpy(lo, hi).tolist() == expected


def test_every_single_number_below_3000() -> None:
    expected = set(primes_in(0, 3000))
    assert [count_primes_between(n, n) for n in range(3001)] == [
        int(n in expected) for n in range(3001)
    ]


def _boundaries() -> list[int]:
    """Split points that are primes, squares of primes, their neighbours, 0, 1 and 2."""
    points = {0, 1, 2, 3, 4, 5, 6, 7, 29, 30, 31, 49, 121, 961, 9_999_991, 10**7}
    for p in (7, 11, 13, 17, 19, 23, 29, 31, 997, 3_137, 9_973):
        points |= {p, p * p - 1, p * p, p * p + 1}
    return sorted(points)


@pytest.mark.parametrize("boundary", _boundaries())
def test_chunk_boundaries_do_not_lose_or_double_count(boundary: int) -> None:
    whole = count_primes_between(0, 10**8)
    assert count_primes_between(0, boundary) + count_primes_between(boundary + 1, 10**8) == whole


def test_chunks_are_contiguous_and_cover_one_to_n() -> None:
    params = PrimeCountParams(n=1_000_003)
    chunks = WORKLOAD.split(params, 7)
    assert chunks[0]["lo"] == 1
    assert chunks[-1]["hi"] == 1_000_003
    assert all(a["hi"] + 1 == b["lo"] for a, b in itertools.pairwise(chunks))


@pytest.mark.parametrize(("lo", "hi"), [(5, 4), (0, 1), (-10, 1), (100, 50), (14, 16)])
def test_empty_and_primeless_ranges(lo: int, hi: int) -> None:
    assert count_primes_between(lo, hi) == 0
    assert list_primes_numba(lo, hi).size == 0


def test_base_primes_grow_and_are_reused() -> None:
    small = base_primes(1000)
    assert base_primes(500) is small
    larger = base_primes(small.limit + 1)
    assert larger.limit >= 2 * small.limit
    primes, inverses = larger.upto(isqrt(10**12))
    assert ((30 * inverses) % primes == 1).all()
    assert primes[0] > 19


def test_kernel_bound_is_enforced() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        count_primes_between(0, 10**17)


def test_without_numba_the_numpy_kernel_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prime_kernels, "NUMBA_AVAILABLE", False)
    monkeypatch.setattr(prime_kernels, "count_primes_numba", None)
    monkeypatch.setattr(prime_kernels, "list_primes_numba", None)
    assert pi_by_workload(10**6, 3) == 78498
    assert prime_kernels.list_primes_between(90, 110).tolist() == [97, 101, 103, 107, 109]


def test_warm_up_runs() -> None:
    WORKLOAD.warm_up()


@pytest.mark.parametrize(
    ("raw", "limits", "field"),
    [
        ({"n": 9_999}, {}, "n"),
        ({"n": 10**17 + 1}, {}, "n"),
        ({"n": 10**9 + 1}, {"prime_count_max_n": 10**9}, "n"),
        ({"n": "many"}, {}, "n"),
        ({"n": 10**6, "extra": 1}, {}, "extra"),
    ],
)
def test_bad_params_name_the_field(
    raw: dict[str, object], limits: dict[str, int], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        WORKLOAD.parse_params(raw, limits)
    assert caught.value.errors()[0]["loc"] == (field,)


def test_the_sieve_is_held_to_its_own_bound_and_auto_is_not() -> None:
    with pytest.raises(ValidationError, match="method sieve counts up to n = 10000000000000"):
        WORKLOAD.parse_params({"n": 10**13 + 1, "method": "sieve"}, {})
    params = WORKLOAD.parse_params({"n": 10**13 + 1}, {})
    assert WORKLOAD.complete_params(params).method == "combinatorial"
    small = WORKLOAD.complete_params(WORKLOAD.parse_params({"n": 10**6}, {}))
    assert small.method == "sieve"


def test_limit_message_states_the_limit() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 1000000000"):
        WORKLOAD.parse_params({"n": 10**9 + 1}, {"prime_count_max_n": 10**9})
