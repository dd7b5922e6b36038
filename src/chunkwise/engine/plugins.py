"""Workload kinds from other packages: installed under the `chunkwise.workloads` entry-point
group, or named in CHUNKWISE_EXTRA_WORKLOADS.

The API and every worker load them at start. A kind that fails to load (its module does
not import, it is no Workload, its name or a limit clashes with another kind's, the entry
point is not named after the kind) is logged and left out, never fatal: one broken package
must not take down the kinds that work. The API and the workers need not agree: a kind
the API loads is offered only while a live worker reports it (`api/kind_offer.py`), so no
job of it waits for a worker that cannot run it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import EntryPoint, entry_points, packages_distributions
from typing import Any

from chunkwise.workloads import Workload, register_workload

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "chunkwise.workloads"
"""A package's kinds: `kind = "module:Class"` under [project.entry-points."chunkwise.workloads"]."""


class _Refused(Exception):
    """Raised when what a package offers as a kind cannot be one: logged without a stack."""


def load_workloads(extra: Sequence[str]) -> list[str]:
    """Register every installed entry-point kind, then each `module:Name` in `extra`;
    return the kinds registered. What fails is logged and left out."""
    loaded = [_load_entry_point(point) for point in entry_points(group=ENTRY_POINT_GROUP)]
    if extra:
        owners = packages_distributions()  # reads every installed distribution: once
        loaded += [_load_path(path, owners) for path in extra]
    return [kind for kind in loaded if kind is not None]


def _load_entry_point(point: EntryPoint) -> str | None:
    package = point.dist.name if point.dist is not None else point.module.partition(".")[0]

    def load() -> Workload[Any]:
        found = point.load()
        workload = _as_workload(found, point.value)
        if workload.kind != point.name:
            raise _Refused(
                f"entry point {point.name!r} names kind {workload.kind!r}; "
                "the entry point's name must be the kind"
            )
        return workload

    return _register(f"{point.name} = {point.value}", package, load)


def _load_path(path: str, owners: Mapping[str, list[str]]) -> str | None:
    """A `module:Name` kind, whose package is the distribution that installed its
    top-level module, or that module's name when none did (a module on PYTHONPATH)."""
    module_name, sep, attribute = path.partition(":")

    def load() -> Workload[Any]:
        if not (sep and module_name and attribute):
            raise _Refused(f"{path!r} is not of the form module:Name")
        return _as_workload(getattr(importlib.import_module(module_name), attribute), path)

    top_module = module_name.partition(".")[0]
    return _register(path, next(iter(owners.get(top_module, [])), top_module), load)


def _register(what: str, package: str, load: Callable[[], Workload[Any]]) -> str | None:
    try:
        workload = load()
        register_workload(workload, package=package)
    except _Refused as exc:
        log.error("workload kind %s (package %s) left out: %s", what, package, exc)
        return None
    except Exception as exc:
        log.error(
            "workload kind %s (package %s) left out: %s: %s",
            what,
            package,
            type(exc).__name__,
            exc,
            exc_info=not isinstance(exc, ImportError | ValueError),
        )
        return None
    return workload.kind


def _as_workload(found: Any, what: str) -> Workload[Any]:
    """A Workload instance from what an entry point or path names: a class or an instance."""
    if isinstance(found, type) and issubclass(found, Workload):
        found = found()
    if not isinstance(found, Workload):
        raise _Refused(f"{what} is not a Workload class or instance")
    return found
