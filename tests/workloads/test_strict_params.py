"""Every built-in kind takes its numbers as numbers: not a boolean, not a numeric string, and
an integer parameter not a float (issue 29, item 9). A float parameter takes an integer."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chunkwise.workloads import get_workload

VALID: dict[str, dict[str, Any]] = {
    "sum_range": {"a": 1, "n": 100},
    "prime_count": {"n": 100_000},
    "prime_list": {"start": 0, "end": 1000},
    "monte_carlo": {"amount": 1000.0, "rate": 0.05, "volatility": 0.2, "years": 5, "paths": 10},
}
NUMBERS = [(kind, name) for kind, params in VALID.items() for name in params]


def parse(kind: str, params: dict[str, Any]) -> Any:
    return get_workload(kind).parse_params(params, {})


@pytest.mark.parametrize("kind", VALID)
def test_the_valid_parameters_parse(kind: str) -> None:
    parse(kind, VALID[kind])


@pytest.mark.parametrize(("kind", "name"), NUMBERS)
@pytest.mark.parametrize("loose", ["bool", "string"])
def test_a_number_given_as_a_boolean_or_a_string_is_refused(
    kind: str, name: str, loose: str
) -> None:
    value = VALID[kind][name]
    given = bool(value) if loose == "bool" else str(value)
    with pytest.raises(ValidationError) as refused:
        parse(kind, {**VALID[kind], name: given})
    assert refused.value.errors()[0]["loc"] == (name,)


@pytest.mark.parametrize(
    ("kind", "name"),
    [(kind, name) for kind, name in NUMBERS if type(VALID[kind][name]) is int],
)
def test_an_integer_parameter_refuses_a_float(kind: str, name: str) -> None:
    with pytest.raises(ValidationError):
        parse(kind, {**VALID[kind], name: float(VALID[kind][name])})


def test_a_float_parameter_takes_an_integer() -> None:
    params = parse("monte_carlo", {"amount": 1000, "rate": 0, "volatility": 0, "paths": 10})
    assert params.amount == 1000.0 and isinstance(params.amount, float)


def test_a_stored_jobs_parameters_validate_again_to_the_same_values() -> None:
    """The engine validates a stored job's parameters again (engine/runner.py): what the
    first validation stored, read back from JSON, must pass the strict check."""
    for kind, params in VALID.items():
        workload = get_workload(kind)
        stored = workload.complete_params(parse(kind, params)).model_dump(mode="json")
        assert parse(kind, stored).model_dump(mode="json") == stored
