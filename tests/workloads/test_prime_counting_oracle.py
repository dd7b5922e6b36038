"""The combinatorial prime count against an independent oracle, Debian's primecount:
powers of ten to 10^15, n next to primes, squares and cubes of primes, random n, and
splits into many chunks. primecount runs as a process, so these are integration tests;
`make test` installs it where apt can, and they skip without it."""

from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from chunkwise.workloads.prime_counting import prime_count

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("primecount") is None,
        reason="no primecount (make test installs Debian's where apt can)",
    ),
]


def oracle(n: int) -> int:
    """π(n) from the primecount CLI (Deléglise-Rivat/Gourdon, C++)."""
    done = subprocess.run(
        ["primecount", str(n), "--threads=1"], capture_output=True, text=True, check=True
    )
    return int(done.stdout.split()[0])


def cases() -> list[tuple[int, int]]:
    """(n, chunks): the powers of ten, boundaries of the φ recursion and random n."""
    generator = random.Random(17)
    values = [(10**k, 1 + k % 7) for k in range(4, 15)]
    values += [(p - 1, 4) for p in (10**11 + 3, 10**12 + 39)]  # next to a prime
    values += [(p * p + d, 8) for p in (1_000_003, 3_162_277) for d in (-1, 0, 1)]
    values += [(p**3 + d, 5) for p in (10_007, 21_467) for d in (-1, 0, 1)]
    values += [(generator.randrange(10**9, 10**14), generator.randrange(1, 33)) for _ in range(12)]
    return values


@pytest.mark.parametrize(("n", "chunks"), cases())
def test_counts_as_primecount_does(n: int, chunks: int) -> None:
    assert prime_count(n, chunks) == oracle(n)


def test_pi_of_10_to_the_15_split_in_16_chunks() -> None:
    assert prime_count(10**15, 16) == 29_844_570_422_669 == oracle(10**15)
