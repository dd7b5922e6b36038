"""Workload limits: each kind declares its own, and settings expose them all by name."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, ConfigDict

from chunkwise.config import Settings
from chunkwise.workloads import (
    Chunk,
    Limit,
    Partial,
    Workload,
    bounded_by,
    declared_limits,
    registry,
)

MAX_WIDGETS = Limit(name="widgets_max_count", default=50, description="Most widgets a job makes.")


class WidgetParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: Annotated[int, bounded_by(MAX_WIDGETS)]


class Widgets(Workload[WidgetParams]):
    """A kind from outside the package, with a limit of its own."""

    kind = "widgets"
    description = "Make widgets."
    params_model = WidgetParams
    limits = (MAX_WIDGETS,)

    def split(self, params: WidgetParams, chunks: int) -> list[Chunk]:
        return [{"count": params.count}]

    def run_chunk(self, chunk: Chunk) -> Partial:
        return chunk["count"]

    def combine(self, params: WidgetParams, partials: Sequence[Partial]) -> dict[str, Any]:
        return {"widgets": sum(partials)}


@pytest.fixture
def widgets() -> Iterator[Widgets]:
    """The kind registered for one test, as CHUNKWISE_EXTRA_WORKLOADS would do."""
    workload = Widgets()
    registry.register_workload(workload)
    yield workload
    del registry._WORKLOADS[workload.kind]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("PRIME_COUNT_MAX_N", "PRIME_LIST_MAX_END", "MONTE_CARLO_MAX_PATHS"):
        monkeypatch.delenv(f"CHUNKWISE_{name}", raising=False)
    monkeypatch.delenv("CHUNKWISE_WORKLOAD_LIMITS", raising=False)
    monkeypatch.delenv("CHUNKWISE_WIDGETS_MAX_COUNT", raising=False)
    return monkeypatch


def test_the_built_in_kinds_declare_their_limits_with_a_meaning() -> None:
    limits = declared_limits()
    assert {name: limit.default for name, limit in limits.items()} == {
        "prime_count_max_n": 10**17,
        "prime_count_sieve_max_n": 10**13,
        "prime_list_max_end": 10**8,
        "monte_carlo_max_paths": 10**8,
    }
    assert all(limit.description for limit in limits.values())


@pytest.mark.usefixtures("clean_env")
def test_settings_name_no_kind_and_default_to_the_declared_limits() -> None:
    assert not any(
        name.endswith(("_max_n", "_max_end", "_max_paths")) for name in Settings.model_fields
    )
    assert Settings().workload_limits() == {
        name: limit.default for name, limit in declared_limits().items()
    }


def test_each_limit_is_set_by_its_own_variable(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CHUNKWISE_PRIME_COUNT_MAX_N", "1000000")
    clean_env.setenv("CHUNKWISE_MONTE_CARLO_MAX_PATHS", "5000")
    limits = Settings().workload_limits()
    assert limits["prime_count_max_n"] == 10**6
    assert limits["monte_carlo_max_paths"] == 5000
    assert limits["prime_list_max_end"] == 10**8


def test_overrides_by_keyword_or_json_win(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CHUNKWISE_PRIME_COUNT_MAX_N", "1000000")
    keyword = Settings(workload_limit_overrides={"prime_count_max_n": 20_000})
    assert keyword.workload_limits()["prime_count_max_n"] == 20_000
    clean_env.setenv("CHUNKWISE_WORKLOAD_LIMITS", '{"prime_list_max_end": 777}')
    limits = Settings().workload_limits()
    assert limits["prime_list_max_end"] == 777
    assert limits["prime_count_max_n"] == 10**6


@pytest.mark.usefixtures("widgets")
def test_an_extra_kind_brings_its_limit_and_its_variable(clean_env: pytest.MonkeyPatch) -> None:
    assert Settings().workload_limits()["widgets_max_count"] == 50
    clean_env.setenv("CHUNKWISE_WIDGETS_MAX_COUNT", "7")
    assert Settings().workload_limits()["widgets_max_count"] == 7


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CHUNKWISE_PRIME_COUNT_MAX_N", "9999", r"CHUNKWISE_PRIME_COUNT_MAX_N must be .* >= 10000"),
        (
            "CHUNKWISE_PRIME_LIST_MAX_END",
            "lots",
            r"CHUNKWISE_PRIME_LIST_MAX_END must be an integer",
        ),
        ("CHUNKWISE_WORKLOAD_LIMITS", '{"prime_count": 5}', r"unknown workload limit.*prime_count"),
    ],
)
def test_a_bad_limit_setting_is_refused_with_its_name(
    clean_env: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(ValueError, match=message):
        Settings().workload_limits()


def test_a_kind_declaring_a_taken_limit_differently_is_refused(widgets: Widgets) -> None:
    class Gadgets(Widgets):
        kind = "gadgets"
        limits = (Limit(name="widgets_max_count", default=9, description="Other meaning."),)

    with pytest.raises(ValueError, match="widgets_max_count"):
        registry.register_workload(Gadgets())
    assert "gadgets" not in registry.workload_kinds()
