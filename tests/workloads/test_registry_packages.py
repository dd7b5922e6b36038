"""The registry knows where each kind comes from: the built-in ones from chunkwise, every
other from the package that registered it; and it refuses what could not run."""

from __future__ import annotations

import pytest

from chunkwise.workloads import (
    BUILT_IN_PACKAGE,
    Limit,
    built_in_kinds,
    get_workload,
    is_built_in,
    register_workload,
    workload_kinds,
    workload_package,
)
from chunkwise.workloads.limits import check_limit
from chunkwise.workloads.sums import SumRange
from tests.kind_plugins import Cubes, OtherSumRange, scratch_registry


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    scratch_registry(monkeypatch)


def test_the_built_in_kinds_come_from_chunkwise() -> None:
    assert built_in_kinds() == frozenset(workload_kinds())
    assert all(is_built_in(kind) for kind in workload_kinds())
    assert {workload_package(kind) for kind in workload_kinds()} == {BUILT_IN_PACKAGE}


def test_a_registered_kind_keeps_the_package_it_came_from() -> None:
    register_workload(Cubes(), package="acme-kinds")
    assert workload_package("cubes") == "acme-kinds"
    assert not is_built_in("cubes") and "cubes" not in built_in_kinds()

    # Registering the same class again, from anywhere, changes nothing
    first = get_workload("cubes")
    register_workload(Cubes(), package="elsewhere")
    assert get_workload("cubes") is first and workload_package("cubes") == "acme-kinds"


def test_without_a_package_a_kind_comes_from_its_top_level_module() -> None:
    register_workload(Cubes())
    assert workload_package("cubes") == "tests"


def test_a_built_in_kind_stays_built_in() -> None:
    register_workload(SumRange(), package="acme-kinds")
    assert workload_package("sum_range") == BUILT_IN_PACKAGE
    with pytest.raises(ValueError, match="'sum_range' is already registered"):
        register_workload(OtherSumRange(), package="acme-kinds")
    assert type(get_workload("sum_range")) is SumRange


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("cubes_max_n", "is not a Limit"),
        (Limit(name="Cubes-Max", default=5, description=""), "not snake_case"),
        (Limit(name="cubes_max_n", default=0, description=""), "default 0 is not an integer"),
        (Limit(name="cubes_max_n", default=2.5, description=""), "not an integer"),  # type: ignore[arg-type]
    ],
)
def test_a_limit_no_deployment_could_set_is_refused(limit: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_limit(limit)

    class Limited(Cubes):
        limits = (limit,)  # type: ignore[assignment]

    with pytest.raises(ValueError, match=message):
        register_workload(Limited())
    assert "cubes" not in workload_kinds()
