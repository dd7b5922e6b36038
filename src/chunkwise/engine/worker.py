"""Running a chunkwise worker: a Celery worker node wired to the store."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from celery import Celery
from celery.signals import task_received, worker_process_init, worker_ready, worker_shutdown
from celery.worker import state as worker_state

from chunkwise.config import Settings
from chunkwise.engine.celery_app import CHUNK_QUEUE, create_celery
from chunkwise.engine.heartbeat import Heartbeat
from chunkwise.engine.maintenance import Maintenance
from chunkwise.engine.plugins import load_extra_workloads
from chunkwise.engine.reaper import Reaper
from chunkwise.engine.runner import ChunkRunner
from chunkwise.engine.tasks import register_tasks
from chunkwise.store import Store
from chunkwise.workloads import get_workload, workload_kinds


def default_worker_name() -> str:
    """A node name unique per process, so several workers on one host are told apart."""
    return f"chunkwise-{os.getpid()}@{socket.gethostname()}"


def build_worker_app(settings: Settings, store: Store) -> Celery:
    """The Celery app of a worker process, with the chunk task registered."""
    load_extra_workloads(settings.extra_workloads)
    app = create_celery(settings)
    runner = ChunkRunner(
        store,
        settings.workload_limits(),
        max_attempts=settings.chunk_max_attempts,
        time_limit_s=settings.chunk_time_limit_s,
        use_cache=settings.cache_enabled,
    )
    register_tasks(app, runner, retry_backoff_s=settings.chunk_retry_backoff_s)
    return app


def held_task_ids() -> list[str]:
    """Ids of the chunk tasks this worker has received and not finished (main process)."""
    for _ in range(3):
        try:
            held = (
                set(worker_state.reserved_requests)
                | set(worker_state.active_requests)
                | set(worker_state.scheduled_requests)
            )
            return sorted(request.id for request in held)
        except RuntimeError:  # the sets changed while being read; read again
            continue
    return []


class WithoutBackendNoise(logging.Filter):
    """Drops Celery's warning that a revoke could not be stored in a result backend:
    chunkwise has none by design (the store holds every state)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Failed to mark task") and "No result backend" in message)


def warm_up_workloads() -> None:
    """Compile kernels and build tables before the first chunk arrives."""
    for kind in workload_kinds():
        get_workload(kind).warm_up()


def run_worker(
    settings: Settings, *, concurrency: int, name: str | None = None, loglevel: str = "INFO"
) -> None:
    """Run a worker node until it is told to stop (SIGTERM or Ctrl-C)."""
    node = name or default_worker_name()
    store = Store(settings.resolved_database_url)
    store.create_schema()
    app = build_worker_app(settings, store)
    reaper = Reaper(
        store, app, ttl_s=settings.worker_ttl_s, cache_max_entries=settings.cache_max_entries
    )
    maintenance = Maintenance(
        store,
        result_ttl_s=settings.result_ttl_s,
        interval_s=settings.retention_sweep_interval_s,
    )

    def after_beat() -> None:
        try:
            reaper.after_beat()
        finally:  # a broker outage stops the reaper, not the store's housekeeping
            maintenance.after_beat()

    heartbeat = Heartbeat(
        store,
        name=node,
        interval_s=settings.worker_heartbeat_s,
        holding=held_task_ids,
        after_beat=after_beat,
    )

    def on_process_init(**_: Any) -> None:
        store.reset_after_fork()

    # Warm before forking: pool children (replacements too) inherit the compiled kernels,
    # and the worker reports in (heartbeat at worker_ready) only once it can compute.
    warm_up_workloads()
    logging.getLogger("celery.worker.control").addFilter(WithoutBackendNoise())
    worker_process_init.connect(on_process_init, weak=False)
    worker_ready.connect(lambda **_: heartbeat.start(), weak=False)
    task_received.connect(lambda **_: heartbeat.wake(), weak=False)
    worker_shutdown.connect(lambda **_: heartbeat.stop(), weak=False)
    app.worker_main(
        [
            "worker",
            f"--hostname={node}",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            f"--queues={CHUNK_QUEUE}",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
