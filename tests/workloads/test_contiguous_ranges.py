"""contiguous_ranges: how every range-splitting workload divides its numbers."""

from __future__ import annotations

import itertools

import pytest

from chunkwise.workloads.base import contiguous_ranges


def test_equal_parts_as_the_replaced_system_split_them() -> None:
    assert contiguous_ranges(1, 100, 4) == [(1, 25), (26, 50), (51, 75), (76, 100)]


def test_last_range_absorbs_the_remainder() -> None:
    assert contiguous_ranges(1, 10, 3) == [(1, 3), (4, 6), (7, 10)]


def test_fewer_numbers_than_chunks_leaves_leading_ranges_empty() -> None:
    ranges = contiguous_ranges(5, 6, 4)
    assert ranges[-1] == (5, 6)
    assert all(lo > hi for lo, hi in ranges[:-1])


@pytest.mark.parametrize(("lo", "hi"), [(0, 0), (1, 1), (0, 99), (7, 10**12), (-5, 5)])
@pytest.mark.parametrize("chunks", [1, 2, 7, 64])
def test_ranges_cover_every_number_once_in_order(lo: int, hi: int, chunks: int) -> None:
    ranges = [(a, b) for a, b in contiguous_ranges(lo, hi, chunks) if a <= b]
    assert ranges[0][0] == lo
    assert ranges[-1][1] == hi
    assert all(b + 1 == c for (_, b), (c, _) in itertools.pairwise(ranges))
    assert len(contiguous_ranges(lo, hi, chunks)) == chunks


def test_at_least_one_chunk() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        contiguous_ranges(1, 10, 0)
