"""Pure workload code: parameters, splitting, per-chunk kernels and combining.

Nothing here imports Celery, SQLAlchemy, FastAPI or any other chunkwise package.
"""

from chunkwise.workloads.base import (
    Cacheable,
    Chunk,
    ItemList,
    Partial,
    UnknownWorkloadError,
    Workload,
)
from chunkwise.workloads.limits import Limit, bounded_by
from chunkwise.workloads.registry import (
    BUILT_IN_PACKAGE,
    built_in_kinds,
    declared_limits,
    get_workload,
    is_built_in,
    register_workload,
    unregister_workload,
    workload_kinds,
    workload_package,
)

__all__ = [
    "BUILT_IN_PACKAGE",
    "Cacheable",
    "Chunk",
    "ItemList",
    "Limit",
    "Partial",
    "UnknownWorkloadError",
    "Workload",
    "bounded_by",
    "built_in_kinds",
    "declared_limits",
    "get_workload",
    "is_built_in",
    "register_workload",
    "unregister_workload",
    "workload_kinds",
    "workload_package",
]
