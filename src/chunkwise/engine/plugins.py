"""Workload kinds from outside the package, named in CHUNKWISE_EXTRA_WORKLOADS."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from chunkwise.workloads import Workload, register_workload


def load_extra_workloads(paths: Sequence[str]) -> None:
    """Import each `module:Name` (a Workload class or instance) and register it.

    The API and every worker must load the same extra kinds.
    """
    for path in paths:
        module_name, sep, attribute = path.partition(":")
        if not sep:
            raise ValueError(f"extra workload {path!r} is not of the form module:Name")
        found = getattr(importlib.import_module(module_name), attribute)
        workload = found() if isinstance(found, type) else found
        if not isinstance(workload, Workload):
            raise TypeError(f"extra workload {path!r} is not a Workload")
        register_workload(workload)
