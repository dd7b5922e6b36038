"""monte_carlo: the GBM simulation's statistics, determinism across chunkings, validation."""

from __future__ import annotations

import json
from math import ceil, exp
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from chunkwise.workloads import get_workload, montecarlo
from chunkwise.workloads.montecarlo import MonteCarloParams, simulate_log_returns
from tests.workloads.jobs import run_job

WORKLOAD = get_workload("monte_carlo")
BASE = {"amount": 10_000.0, "rate": 0.05, "volatility": 0.2, "years": 10}


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 1,000 paths, so that a small job has many blocks to share among chunks."""
    monkeypatch.setattr(montecarlo, "BLOCK_PATHS", 1_000)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_mean_is_within_three_standard_errors_of_the_expectation(seed: int) -> None:
    # dS/S = rate dt + volatility dW, so E[S_T] = amount * exp(rate * years).
    result = run_job(WORKLOAD, {**BASE, "paths": 40_000, "seed": seed}, 3)[1]
    expected = BASE["amount"] * exp(BASE["rate"] * BASE["years"])
    assert result["expected_mean"] == pytest.approx(expected)
    assert abs(result["mean"] - expected) < 3 * result["standard_error"]
    assert result["paths"] == 40_000


@pytest.mark.usefixtures("small_blocks")
def test_results_are_bit_identical_for_any_chunk_count() -> None:
    raw = {**BASE, "paths": 30_500, "seed": 42}
    one, seven, many = (run_job(WORKLOAD, raw, chunks)[1] for chunks in (1, 7, 64))
    assert one == seven == many


@pytest.mark.usefixtures("small_blocks")
def test_a_retried_chunk_repeats_its_partial() -> None:
    chunk = WORKLOAD.split(WORKLOAD.parse_params({**BASE, "paths": 5_000, "seed": 9}, {}), 2)[1]
    assert WORKLOAD.run_chunk(chunk) == WORKLOAD.run_chunk(json.loads(json.dumps(chunk)))


def test_different_seeds_give_different_results() -> None:
    assert (
        run_job(WORKLOAD, {**BASE, "paths": 2_000, "seed": 1}, 1)[1]
        != run_job(WORKLOAD, {**BASE, "paths": 2_000, "seed": 2}, 1)[1]
    )


def test_unseeded_jobs_each_get_a_fresh_seed_and_report_it() -> None:
    # Given two jobs submitted without a seed
    first = run_job(WORKLOAD, {**BASE, "paths": 2_000}, 2)[1]
    second = run_job(WORKLOAD, {**BASE, "paths": 2_000}, 2)[1]

    # Then each drew its own 63-bit seed, and their numbers differ
    assert first["seed"] != second["seed"]
    assert all(0 <= result["seed"] < 2**63 for result in (first, second))
    assert first["mean"] != second["mean"]


def test_resubmitting_with_the_reported_seed_reproduces_the_result_exactly() -> None:
    unseeded = run_job(WORKLOAD, {**BASE, "paths": 2_000}, 2)[1]
    again = run_job(WORKLOAD, {**BASE, "paths": 2_000, "seed": unseeded["seed"]}, 5)[1]
    assert json.dumps(again) == json.dumps(unseeded)


def test_a_seed_is_drawn_once_at_submission_not_when_stored_params_are_read() -> None:
    # Given a new job's completed parameters, as the store keeps them
    completed = WORKLOAD.complete_params(WORKLOAD.parse_params({**BASE, "paths": 2_000}, {}))
    stored = completed.model_dump(mode="json")
    assert stored["seed"] is not None

    # When they are validated again, as a worker does before combining
    reread = WORKLOAD.params_model.model_validate(stored)

    # Then the seed is the stored one, and completing a seeded job keeps its seed
    assert reread.seed == stored["seed"]
    assert WORKLOAD.complete_params(reread) == reread


def test_splitting_without_a_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a seed"):
        WORKLOAD.split(WORKLOAD.parse_params({**BASE, "paths": 2_000}, {}), 2)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("volatility", [0.05, 0.2, 0.9])
def test_percentiles_are_within_the_stated_bound(volatility: float) -> None:
    raw = {**BASE, "volatility": volatility, "paths": 20_000, "seed": 3}
    result = run_job(WORKLOAD, raw, 4)[1]
    chunk = WORKLOAD.split(WORKLOAD.parse_params(raw, {}), 1)[0]
    blocks = range(chunk["first_block"], chunk["last_block"] + 1)
    terminal = np.sort(
        raw["amount"] * np.exp(np.concatenate([simulate_log_returns(chunk, b) for b in blocks]))
    )
    bound = result["percentile_error_bound"]
    assert 0 < bound < 0.01
    for q in (5, 25, 50, 75, 95):
        exact = terminal[ceil(q * terminal.size / 100) - 1]  # nearest rank
        assert abs(result["percentiles"][str(q)] - exact) <= bound * exact
    assert result["probability_of_loss"] == np.count_nonzero(terminal < raw["amount"]) / 20_000
    assert result["mean"] == pytest.approx(terminal.mean(), rel=1e-12)
    assert result["std"] == pytest.approx(terminal.std(ddof=1), rel=1e-9)


@pytest.mark.parametrize(("rate", "loss"), [(0.05, 0.0), (-0.05, 1.0)])
def test_without_volatility_every_path_ends_alike(rate: float, loss: float) -> None:
    result = run_job(WORKLOAD, {**BASE, "rate": rate, "volatility": 0, "paths": 1_000}, 3)[1]
    final = BASE["amount"] * exp(rate * BASE["years"])
    assert result["percentiles"]["50"] == pytest.approx(final, rel=1e-12)
    assert result["percentiles"]["5"] == result["percentiles"]["95"]
    assert result["percentile_error_bound"] == 0
    assert result["probability_of_loss"] == loss


@pytest.mark.parametrize(("paths", "chunks"), [(1, 1), (1, 5), (65_537, 3)])
def test_odd_sizes(paths: int, chunks: int) -> None:
    assert run_job(WORKLOAD, {**BASE, "years": 1, "paths": paths}, chunks)[1]["paths"] == paths


def test_seed_style_params_use_defaults() -> None:
    params = WORKLOAD.parse_params({"amount": 10000, "rate": 0.05}, {})
    assert params == MonteCarloParams(
        amount=10000, rate=0.05, volatility=0.2, years=10, paths=100_000, seed=None
    )


def test_partials_stay_small() -> None:
    params = WORKLOAD.parse_params({**BASE, "paths": 100_000, "seed": 5}, {})
    partial = WORKLOAD.run_chunk(WORKLOAD.split(params, 1)[0])
    assert len(json.dumps(partial)) < 40_000


@pytest.mark.parametrize(
    ("raw", "limits", "field"),
    [
        ({**BASE, "amount": 0}, {}, "amount"),
        ({**BASE, "amount": -5}, {}, "amount"),
        ({**BASE, "rate": float("nan")}, {}, "rate"),
        ({**BASE, "rate": 2}, {}, "rate"),
        ({**BASE, "volatility": -0.1}, {}, "volatility"),
        ({**BASE, "years": 0}, {}, "years"),
        ({**BASE, "years": 101}, {}, "years"),
        ({**BASE, "years": 2.5}, {}, "years"),
        ({**BASE, "paths": 0}, {}, "paths"),
        ({**BASE, "paths": 10**8 + 1}, {}, "paths"),
        ({**BASE, "paths": 1_001}, {"monte_carlo_max_paths": 1_000}, "paths"),
        ({**BASE, "seed": -1}, {}, "seed"),
        ({"rate": 0.05}, {}, "amount"),
        ({**BASE, "steps": 12}, {}, "steps"),
    ],
)
def test_bad_params_name_the_field(raw: dict[str, Any], limits: dict[str, int], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        WORKLOAD.parse_params(raw, limits)
    assert caught.value.errors()[0]["loc"] == (field,)
