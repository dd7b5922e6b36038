"""Pure workload code: parameters, splitting, per-chunk kernels and combining.

Nothing here imports Celery, SQLAlchemy, FastAPI or any other chunkwise package.
"""

from chunkwise.workloads.base import Chunk, Partial, UnknownWorkloadError, Workload
from chunkwise.workloads.registry import get_workload, register_workload, workload_kinds

__all__ = [
    "Chunk",
    "Partial",
    "UnknownWorkloadError",
    "Workload",
    "get_workload",
    "register_workload",
    "workload_kinds",
]
