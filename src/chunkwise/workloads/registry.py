"""The workload kinds chunkwise knows, by name. Adding a kind is one line here."""

from __future__ import annotations

from typing import Any

from chunkwise.workloads.base import UnknownWorkloadError, Workload
from chunkwise.workloads.primes import PrimeCount
from chunkwise.workloads.sums import SumRange

_WORKLOADS: dict[str, Workload[Any]] = {
    workload.kind: workload
    for workload in (
        PrimeCount(),
        SumRange(),
    )
}


def get_workload(kind: str) -> Workload[Any]:
    """The workload named `kind`; raises UnknownWorkloadError naming the known kinds."""
    try:
        return _WORKLOADS[kind]
    except KeyError:
        known = ", ".join(sorted(_WORKLOADS))
        raise UnknownWorkloadError(f"unknown kind {kind!r}; known kinds: {known}") from None


def workload_kinds() -> list[str]:
    """Names of every registered kind, sorted."""
    return sorted(_WORKLOADS)
