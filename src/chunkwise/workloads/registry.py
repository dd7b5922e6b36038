"""The workload kinds chunkwise knows, by name. Adding a kind is one line here."""

from __future__ import annotations

from typing import Any

from chunkwise.workloads.base import UnknownWorkloadError, Workload
from chunkwise.workloads.limits import Limit
from chunkwise.workloads.montecarlo import MonteCarlo
from chunkwise.workloads.prime_list import PrimeList
from chunkwise.workloads.primes import PrimeCount
from chunkwise.workloads.sums import SumRange

_WORKLOADS: dict[str, Workload[Any]] = {
    workload.kind: workload
    for workload in (
        PrimeCount(),
        PrimeList(),
        SumRange(),
        MonteCarlo(),
    )
}


def get_workload(kind: str) -> Workload[Any]:
    """The workload named `kind`; raises UnknownWorkloadError naming the known kinds."""
    try:
        return _WORKLOADS[kind]
    except KeyError:
        known = ", ".join(sorted(_WORKLOADS))
        raise UnknownWorkloadError(f"unknown kind {kind!r}; known kinds: {known}") from None


def register_workload(workload: Workload[Any]) -> None:
    """Add a kind beside the built-in ones.

    A kind name already taken by another class is refused, and so is a limit name that
    another kind declares differently: settings name limits alone, not by kind.
    """
    existing = _WORKLOADS.get(workload.kind)
    if existing is not None and type(existing) is not type(workload):
        raise ValueError(f"workload kind {workload.kind!r} is already registered")
    declared = declared_limits()
    for limit in workload.limits:
        if limit.name in declared and declared[limit.name] != limit:
            raise ValueError(f"workload limit {limit.name!r} is already declared differently")
    _WORKLOADS[workload.kind] = workload


def declared_limits() -> dict[str, Limit]:
    """Every registered kind's limits, by name."""
    return {limit.name: limit for workload in _WORKLOADS.values() for limit in workload.limits}


def workload_kinds() -> list[str]:
    """Names of every registered kind, sorted."""
    return sorted(_WORKLOADS)
