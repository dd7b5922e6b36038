"""The seed systems' own HTTP surfaces, as thin adapters over chunkwise's job service.

People who ran one of the systems chunkwise replaces point their clients, scripts and
front ends here and change nothing. Each module is one system's surface: its paths, its
request and response shapes, its errors; the jobs are chunkwise's own underneath. What
each keeps and what it deliberately changes is in docs/compat.md.
"""

from fastapi import APIRouter

from chunkwise.api.routes.compat import (
    background_computation,
    financial_tasks,
    prime_counter,
    primes_flask,
    task_queue,
)

ROUTERS: list[APIRouter] = [
    prime_counter.router,
    *background_computation.routers,
    *financial_tasks.routers,
    task_queue.router,
    primes_flask.router,
]
