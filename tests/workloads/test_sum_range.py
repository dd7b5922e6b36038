"""sum_range: exact sums of a..n at any size, split any way."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chunkwise.workloads import get_workload
from tests.workloads.jobs import run_job

WORKLOAD = get_workload("sum_range")


@pytest.mark.parametrize("n", [1, 2, 10, 10_000, 2**53, 10**15 + 7, 10**20, 10**30, 10**30 + 1])
@pytest.mark.parametrize("chunks", [1, 3, 64])
def test_one_to_n(n: int, chunks: int) -> None:
    assert run_job(WORKLOAD, {"n": n}, chunks)[1]["sum"] == n * (n + 1) // 2


@pytest.mark.parametrize(
    ("a", "n"), [(5, 10), (10, 10), (-10, 10), (-3, 1), (10**29, 10**30), (7, 7 + 63)]
)
@pytest.mark.parametrize("chunks", [1, 4, 100])
def test_a_to_n(a: int, n: int, chunks: int) -> None:
    def triangle(m: int) -> int:  # 1 + 2 + ... + m, extended to negative m
        return m * (m + 1) // 2

    assert run_job(WORKLOAD, {"a": a, "n": n}, chunks)[1]["sum"] == triangle(n) - triangle(a - 1)


def test_a_to_n_by_brute_force() -> None:
    assert run_job(WORKLOAD, {"a": -17, "n": 1234}, 7)[1]["sum"] == sum(range(-17, 1235))


def test_seed_style_params_mean_one_to_n() -> None:
    assert run_job(WORKLOAD, {"n": 10_000}, 4)[1] == {"sum": 50_005_000}


@pytest.mark.parametrize(
    ("n", "has_string"), [(10**8, False), (134_217_727, False), (134_217_728, True), (10**30, True)]
)
def test_sums_beyond_javascript_precision_also_come_as_strings(n: int, has_string: bool) -> None:
    result = run_job(WORKLOAD, {"n": n}, 2)[1]
    assert ("sum_str" in result) is has_string
    if has_string:
        assert int(result["sum_str"]) == result["sum"]


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"n": 0}, "n", "greater than or equal to 1"),
        ({"a": 5, "n": 4}, "n", "greater than or equal to a"),
        ({"n": 10**1000}, "n", "at most 1000 digits"),
        ({"a": -(10**1000), "n": 5}, "a", "at most 1000 digits"),
        ({"a": 1}, "n", "required"),
        ({"n": 5, "b": 9}, "b", "not permitted"),
    ],
)
def test_bad_params_name_the_field(raw: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        WORKLOAD.parse_params(raw, {})
    assert caught.value.errors()[0]["loc"] == (field,)
