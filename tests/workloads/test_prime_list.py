"""prime_list: both algorithms and the compact partial encoding.

Paging through a result's partials is the engine's: tests/store/test_result_pages.py."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from chunkwise.workloads import get_workload
from chunkwise.workloads.prime_codec import (
    DECODE_BLOCK_CHARS,
    PrimeCodecError,
    decode_primes,
    encode_primes,
    iter_prime_blocks,
)
from chunkwise.workloads.prime_kernels import list_primes
from chunkwise.workloads.prime_list import PrimeListParams
from tests.workloads.jobs import run_job
from tests.workloads.oracles import primes_in

WORKLOAD = get_workload("prime_list")


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 0), (0, 2), (2, 2), (0, 100), (4, 4), (89, 97), (0, 30_000), (999_000, 1_003_000)],
)
@pytest.mark.parametrize("chunks", [1, 4, 9])
def test_algorithms_agree_with_the_oracle(start: int, end: int, chunks: int) -> None:
    expected = primes_in(start, end)
    for algorithm in ("sieve", "trial_division"):
        partials, result = run_job(
            WORKLOAD, {"start": start, "end": end, "algorithm": algorithm}, chunks
        )
        assert [p for partial in partials for p in decode_primes(partial).tolist()] == expected
        assert result == {
            "count": len(expected),
            "first": expected[0] if expected else None,
            "last": expected[-1] if expected else None,
        }


def test_sieve_is_the_default_and_start_defaults_to_zero() -> None:
    params = WORKLOAD.parse_params({"end": 50}, {})
    assert params == PrimeListParams(start=0, end=50, algorithm="sieve")


def test_a_partial_costs_about_one_byte_per_prime() -> None:
    partials, result = run_job(WORKLOAD, {"end": 10**7}, 2)
    assert result["count"] == 664_579
    assert sum(len(p["data"]) for p in partials) < 1.4 * result["count"]


@pytest.mark.parametrize(
    "values",
    [
        [],
        [2],
        [0, 1],
        [3, 5, 7, 200, 201, 20_000, 2**21, 2**35, 2**62 + 1, 2**63 - 1],
        list(range(0, 10**6, 127)),
    ],
)
def test_encoding_round_trips(values: list[int]) -> None:
    array = np.array(values, dtype=np.int64)
    partial = json.loads(json.dumps(encode_primes(array)))
    assert partial["count"] == len(values)
    assert decode_primes(partial).tolist() == values
    assert partial["first"] == (values[0] if values else None)
    assert partial["last"] == (values[-1] if values else None)


def test_decoding_streams_in_blocks_across_varint_boundaries() -> None:
    rng = np.random.default_rng(1)
    gaps = rng.choice([1, 2, 130, 20_000, 3_000_000], size=200_000)
    values = np.cumsum(gaps).astype(np.int64)
    partial = encode_primes(values)
    assert len(partial["data"]) > 4 * DECODE_BLOCK_CHARS
    blocks = list(iter_prime_blocks(partial))
    assert len(blocks) > 4
    assert np.array_equal(np.concatenate(blocks), values)


@pytest.mark.parametrize(
    "partial",
    [
        {"count": 1, "encoding": "json", "data": "AQ=="},
        {"count": 1, "encoding": "delta-leb128-base64", "data": "not base64!"},
        {"count": 1, "encoding": "delta-leb128-base64", "data": "gA=="},  # unterminated
        {"count": 2, "encoding": "delta-leb128-base64", "data": "AQ=="},  # count disagrees
    ],
)
def test_malformed_partials_are_refused(partial: dict[str, Any]) -> None:
    with pytest.raises(PrimeCodecError):
        decode_primes(partial)


def test_unknown_algorithm_in_a_chunk_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown algorithm"):
        list_primes(0, 10, "wheel")


def test_warm_up_runs() -> None:
    WORKLOAD.warm_up()


@pytest.mark.parametrize(
    ("raw", "limits", "field", "message"),
    [
        ({"end": 10**8 + 1}, {}, "end", "less than or equal to 100000000"),
        ({"end": 2_000}, {"prime_list_max_end": 1_000}, "end", "less than or equal to 1000"),
        ({"start": 10, "end": 5}, {}, "end", "greater than or equal to start"),
        ({"start": -1, "end": 5}, {}, "start", "greater than or equal to 0"),
        ({"end": 5, "algorithm": "wheel"}, {}, "algorithm", "sieve"),
        ({"start": 1}, {}, "end", "required"),
        ({"end": 5, "step": 2}, {}, "step", "not permitted"),
    ],
)
def test_bad_params_name_the_field(
    raw: dict[str, Any], limits: dict[str, int], field: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        WORKLOAD.parse_params(raw, limits)
    assert caught.value.errors()[0]["loc"] == (field,)
