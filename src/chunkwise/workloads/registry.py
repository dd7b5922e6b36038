"""The workload kinds chunkwise knows, by name, and the package each comes from.

Adding a built-in kind is one line here. Kinds from other packages are registered at
start (`engine/plugins.py`); unlike the built-in ones, which every worker of this release
runs, they are offered only while a live worker reports them.
"""

from __future__ import annotations

from typing import Any

from chunkwise.workloads.base import UnknownWorkloadError, Workload
from chunkwise.workloads.limits import Limit, check_limit
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

BUILT_IN_PACKAGE = "chunkwise"
"""The package of the kinds above."""
_BUILT_IN = frozenset(_WORKLOADS)
_PACKAGES: dict[str, str] = dict.fromkeys(_WORKLOADS, BUILT_IN_PACKAGE)


def get_workload(kind: str) -> Workload[Any]:
    """The workload named `kind`; raises UnknownWorkloadError naming the known kinds."""
    try:
        return _WORKLOADS[kind]
    except KeyError:
        known = ", ".join(sorted(_WORKLOADS))
        raise UnknownWorkloadError(f"unknown kind {kind!r}; known kinds: {known}") from None


def register_workload(workload: Workload[Any], *, package: str | None = None) -> None:
    """Add a kind beside the built-in ones, from `package` (default: the top-level module
    of its class). Registering the same class again changes nothing.

    Raises ValueError for a kind name already taken by another class, and for a limit
    that is malformed or that another kind declares differently: settings name limits
    alone, not by kind.
    """
    existing = _WORKLOADS.get(workload.kind)
    if existing is not None:
        if type(existing) is not type(workload):
            raise ValueError(f"workload kind {workload.kind!r} is already registered")
        return
    declared = declared_limits()
    for limit in workload.limits:
        check_limit(limit)
        if limit.name in declared and declared[limit.name] != limit:
            raise ValueError(f"workload limit {limit.name!r} is already declared differently")
    _WORKLOADS[workload.kind] = workload
    _PACKAGES[workload.kind] = package or _top_module(workload)


def unregister_workload(kind: str) -> None:
    """Take a kind from another package out again (one that could not warm up, say).
    Built-in kinds stay: raises ValueError for one."""
    if kind in _BUILT_IN:
        raise ValueError(f"workload kind {kind!r} is built in")
    _WORKLOADS.pop(kind, None)
    _PACKAGES.pop(kind, None)


def is_built_in(kind: str) -> bool:
    """Whether `kind` ships inside chunkwise, so every worker of this release runs it."""
    return kind in _BUILT_IN


def built_in_kinds() -> frozenset[str]:
    """The kinds that ship inside chunkwise."""
    return _BUILT_IN


def workload_package(kind: str) -> str:
    """The package (distribution or module name) the kind `kind` comes from; raises
    UnknownWorkloadError for a kind not registered."""
    workload = get_workload(kind)
    return _PACKAGES.get(kind) or _top_module(workload)


def _top_module(workload: Workload[Any]) -> str:
    return type(workload).__module__.partition(".")[0]


def declared_limits() -> dict[str, Limit]:
    """Every registered kind's limits, by name."""
    return {limit.name: limit for workload in _WORKLOADS.values() for limit in workload.limits}


def workload_kinds() -> list[str]:
    """Names of every registered kind, sorted."""
    return sorted(_WORKLOADS)
