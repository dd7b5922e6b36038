"""A worker warms its kinds up before it forks and reports in: a kind from another
package whose warm-up raises is logged and left out, and the others stay; a built-in kind
that cannot warm up stops the worker."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from chunkwise.worker.node import warm_up_workloads
from chunkwise.workloads import Workload, registry, workload_kinds
from chunkwise.workloads.sums import SumRange
from tests.kind_plugins import Cubes


class ColdCubes(Cubes):
    kind = "cold_cubes"

    def warm_up(self) -> None:
        raise RuntimeError("the kernel does not compile here")


class WarmCubes(Cubes):
    kind = "warm_cubes"
    warmed = 0

    def warm_up(self) -> None:
        WarmCubes.warmed += 1


class ColdSumRange(SumRange):
    def warm_up(self) -> None:
        raise RuntimeError("broken release")


def only_kinds(monkeypatch: pytest.MonkeyPatch, *kinds: Workload[Any]) -> None:
    """The registry holds `kinds` alone for this test (the real built-ins compile kernels)."""
    monkeypatch.setattr(registry, "_WORKLOADS", {kind.kind: kind for kind in kinds})
    monkeypatch.setattr(registry, "_PACKAGES", {kind.kind: "chunkwise-cubes" for kind in kinds})


def test_a_plug_in_kind_whose_warm_up_fails_is_left_out_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    only_kinds(monkeypatch, ColdCubes(), WarmCubes())
    WarmCubes.warmed = 0

    with caplog.at_level(logging.ERROR, logger="chunkwise.worker.node"):
        warm_up_workloads()

    assert workload_kinds() == ["warm_cubes"]
    assert WarmCubes.warmed == 1
    assert (
        "workload kind 'cold_cubes' (package chunkwise-cubes) left out: its warm-up failed"
        in caplog.text
    )
    assert "RuntimeError: the kernel does not compile here" in caplog.text


def test_a_built_in_kind_that_cannot_warm_up_stops_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    only_kinds(monkeypatch, ColdSumRange(), WarmCubes())

    with pytest.raises(RuntimeError, match="broken release"):
        warm_up_workloads()


def test_a_built_in_kind_cannot_be_taken_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="'sum_range' is built in"):
        registry.unregister_workload("sum_range")
    assert "sum_range" in workload_kinds()
