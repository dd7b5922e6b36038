"""The sum_of_squares kind of tests/kind_packages/squares, tested as its author would:
as pure code, with no service running (docs/workloads.md, "Testing a kind")."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tests.kind_packages.squares.chunkwise_squares import MAX_N, SumOfSquares
from tests.workloads.jobs import run_job

WORKLOAD = SumOfSquares()


def closed_form(n: int) -> int:
    """1² + … + n², the independent oracle."""
    return n * (n + 1) * (2 * n + 1) // 6


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 100_000])
@pytest.mark.parametrize("chunks", [1, 3, 8, 64])
def test_any_split_gives_the_exact_sum(n: int, chunks: int) -> None:
    partials, result = run_job(WORKLOAD, {"n": n}, chunks)
    assert len(partials) == chunks
    assert result == {"sum": closed_form(n)}


def test_chunks_are_self_contained_json_and_cover_one_to_n_once() -> None:
    chunks = WORKLOAD.split(WORKLOAD.parse_params({"n": 10}, {}), 4)
    assert json.loads(json.dumps(chunks)) == chunks
    covered = [k for chunk in chunks for k in range(chunk["lo"], chunk["hi"] + 1)]
    assert covered == list(range(1, 11))


def test_n_is_held_to_the_deployments_limit() -> None:
    assert WORKLOAD.parse_params({"n": 500}, {MAX_N.name: 500}).n == 500
    with pytest.raises(ValidationError, match="less than or equal to 500"):
        WORKLOAD.parse_params({"n": 501}, {MAX_N.name: 500})
    with pytest.raises(ValidationError, match="less than or equal to 100000"):
        WORKLOAD.parse_params({"n": MAX_N.default + 1}, {})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        WORKLOAD.parse_params({"n": 5, "m": 1}, {})
