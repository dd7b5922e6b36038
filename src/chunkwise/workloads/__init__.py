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
    declared_limits,
    get_workload,
    register_workload,
    workload_kinds,
)

__all__ = [
    "Cacheable",
    "Chunk",
    "ItemList",
    "Limit",
    "Partial",
    "UnknownWorkloadError",
    "Workload",
    "bounded_by",
    "declared_limits",
    "get_workload",
    "register_workload",
    "workload_kinds",
]
