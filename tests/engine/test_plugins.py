"""Loading kinds from other packages: entry points of installed distributions and
CHUNKWISE_EXTRA_WORKLOADS paths, each registered with its package, and every one that
fails logged and left out while the rest load."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from chunkwise.engine.plugins import load_workloads
from chunkwise.workloads import get_workload, is_built_in, workload_kinds, workload_package
from tests.kind_plugins import scratch_registry, write_distribution

BUILT_IN = ["monte_carlo", "prime_count", "prime_list", "sum_range"]


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    scratch_registry(monkeypatch)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path that distributions are installed into."""
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_an_installed_kind_is_registered_with_its_distribution(site: Path) -> None:
    # Given a distribution that declares `cubes` under the entry-point group
    write_distribution(site, "acme-kinds", {"cubes": "tests.kind_plugins:Cubes"})

    # When the kinds load
    loaded = load_workloads([])

    # Then cubes is a kind like the built-in ones, from acme-kinds, and not built in
    assert loaded == ["cubes"]
    assert workload_kinds() == sorted([*BUILT_IN, "cubes"])
    assert workload_package("cubes") == "acme-kinds" and not is_built_in("cubes")
    assert {workload_package(kind) for kind in BUILT_IN} == {"chunkwise"}
    workload = get_workload("cubes")
    params = workload.parse_params({"n": 10}, {})
    partials = [workload.run_chunk(chunk) for chunk in workload.split(params, 3)]
    assert workload.combine(params, partials) == {"sum": 3025}


def test_every_kind_that_fails_is_logged_and_left_out(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given one good kind and five broken ones, among two distributions
    write_distribution(site, "acme-kinds", {"cubes": "tests.kind_plugins:Cubes"})
    write_distribution(
        site,
        "broken-kinds",
        {
            "missing": "chunkwise_no_such_module:Missing",
            "not_a_kind": "tests.kind_plugins:NotAKind",
            "sum_range": "tests.kind_plugins:OtherSumRange",
            "bad_limit": "tests.kind_plugins:BadLimit",
            "squares": "tests.kind_plugins:Cubes",
        },
    )

    # When the kinds load, nothing is raised
    loaded = load_workloads([])

    # Then the good kind loads, each broken one is named in a log line with its reason,
    # and the built-in sum_range is still the built-in one
    assert loaded == ["cubes"]
    assert workload_kinds() == sorted([*BUILT_IN, "cubes"])
    logged = "\n".join(errors(caplog))
    for reason in (
        "missing = chunkwise_no_such_module:Missing (package broken-kinds) left out: "
        "ModuleNotFoundError",
        "not_a_kind = tests.kind_plugins:NotAKind (package broken-kinds) left out: "
        "tests.kind_plugins:NotAKind is not a Workload",
        "workload kind 'sum_range' is already registered",
        "default 0 is not an integer at or above its minimum 1",
        "entry point 'squares' names kind 'cubes'",
    ):
        assert reason in logged
    assert len(errors(caplog)) == 5
    assert type(get_workload("sum_range")).__name__ == "SumRange"
    assert workload_package("sum_range") == "chunkwise"


def test_extra_workloads_name_their_module_when_no_distribution_installed_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loaded = load_workloads(["tests.kind_plugins:Cubes", "no_colon", "tests.nothing_here:Kind"])

    assert loaded == ["cubes"]
    assert workload_package("cubes") == "tests"
    assert len(errors(caplog)) == 2
    assert "'no_colon' is not of the form module:Name" in errors(caplog)[0]
    assert (
        "tests.nothing_here:Kind (package tests) left out: ModuleNotFoundError" in errors(caplog)[1]
    )


def test_an_instance_loads_as_its_class_does_and_loading_again_changes_nothing(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_distribution(site, "acme-kinds", {"cubes": "tests.kind_plugins:CUBES"})

    assert load_workloads([]) == ["cubes"]
    first = get_workload("cubes")
    # The same kind again, by entry point and by path (an API created twice in a process)
    assert load_workloads(["tests.kind_plugins:Cubes"]) == ["cubes", "cubes"]
    assert get_workload("cubes") is first and workload_package("cubes") == "acme-kinds"
    assert errors(caplog) == []
