"""A chunkwise worker node: one Celery worker with a prefork pool, wired to the store.

One node per machine is the intended shape: its main process holds the lease for every
chunk its pool children compute, runs the duties (reaping, sweeping, cache bound,
retention) once for the machine, and warms the kernels once before forking, so the
children share the compiled code. It also decides how the node stops (`worker.drain`):
SIGTERM drains for WORKER_DRAIN_S, then hands what is still running back to the queue.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import (
    setup_logging,
    task_received,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)
from celery.worker import state as worker_state

from chunkwise.config import Settings
from chunkwise.engine.celery_app import create_celery, webhook_queue
from chunkwise.engine.plugins import load_workloads
from chunkwise.engine.runner import ChunkRunner
from chunkwise.engine.tasks import register_tasks
from chunkwise.engine.webhooks import Webhooks, register_webhook_task
from chunkwise.logs import use_json_logs
from chunkwise.probe import ALIVE_FILE_NAME
from chunkwise.store import Store, cache, idempotency
from chunkwise.worker.drain import Drain, drain_step, give_back_starts, ignore_stop_signal
from chunkwise.worker.duties import Duties, Duty
from chunkwise.worker.housekeeping import Retention
from chunkwise.worker.lease import Lease
from chunkwise.worker.reaper import Reaper
from chunkwise.workloads import (
    get_workload,
    is_built_in,
    unregister_workload,
    workload_kinds,
    workload_package,
)

log = logging.getLogger(__name__)


def default_worker_name() -> str:
    """A node name unique per process, so several workers on one host are told apart."""
    return f"chunkwise-{os.getpid()}@{socket.gethostname()}"


def build_worker_app(settings: Settings, store: Store) -> Celery:
    """The Celery app of a worker process, with the chunk task registered."""
    load_workloads(settings.extra_workloads)
    app = create_celery(settings)
    runner = ChunkRunner(
        store,
        settings.workload_limits(),
        max_attempts=settings.chunk_max_attempts,
        time_limit_s=settings.chunk_time_limit_s,
        use_cache=settings.cache_enabled,
        store_outage_s=settings.store_outage_s,
        worker_ttl_s=settings.worker_ttl_s,
    )
    register_tasks(
        app,
        runner,
        retry_backoff_s=settings.chunk_retry_backoff_s,
        hard_time_limit_s=settings.resolved_chunk_hard_time_limit_s,
    )
    register_webhook_task(app, Webhooks(settings, store, app))
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


PER_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace")
"""Celery's loggers that write a line when each task arrives and when it succeeds."""


def quiet_per_chunk_logs(loglevel: str) -> None:
    """Keep Celery's two lines per chunk for DEBUG only.

    A node moving hundreds of chunks a second would log each twice at INFO, and the
    "received" line is formatted on the main loop that serves every pool process. Chunk
    failures, retries and the runner's own messages still log at INFO and above.
    """
    if logging.getLevelName(loglevel.upper()) != logging.DEBUG:
        for name in PER_TASK_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def warm_up_workloads() -> None:
    """Compile kernels and build tables before the first chunk arrives.

    A kind from another package whose warm-up raises is logged and left out of this
    worker, which then does not report it: the other kinds keep working, and chunks of
    that kind go to workers where it warmed up. A built-in kind that cannot warm up is a
    fault of the release, and stops the worker.
    """
    for kind in workload_kinds():
        try:
            get_workload(kind).warm_up()
        except Exception:
            if is_built_in(kind):
                raise
            log.exception(
                "workload kind %r (package %s) left out: its warm-up failed",
                kind,
                workload_package(kind),
            )
            unregister_workload(kind)


def node_duties(settings: Settings, store: Store, app: Celery, lease: Lease) -> Duties:
    """What the node does beside computing, each on its own interval."""
    reaper = Reaper.for_node(settings, store, app, lease.contact_s)
    retention = Retention(store, result_ttl_s=settings.result_ttl_s)
    webhooks = Webhooks(settings, store, app)

    def bound_cache() -> None:
        with store.writer() as session:
            cache.evict(session, max_entries=settings.cache_max_entries)

    def forget_keys() -> None:
        idempotency.purge_expired_keys(store, ttl_s=settings.idempotency_ttl_s)

    # Reaping is checked twice per heartbeat, so a dead peer's chunks go out again within
    # about TTL + half a heartbeat of its last beat.
    return Duties(
        [
            Duty("reap", settings.worker_heartbeat_s / 2, reaper.reap),
            Duty(
                "orphan sweep", settings.worker_ttl_s, reaper.sweep_orphans, settings.worker_ttl_s
            ),
            Duty("cache bound", settings.cache_evict_interval_s, bound_cache),
            Duty("retention", settings.retention_sweep_interval_s, retention.sweep),
            Duty("idempotency keys", settings.retention_sweep_interval_s, forget_keys),
            Duty("webhooks", settings.webhook_sweep_s, webhooks.sweep),
        ]
    )


def alive_file(data_dir: Path) -> Path:
    """Where the lease thread shows it runs, for `python -m chunkwise.probe worker` (a
    container's or pod's liveness check); the data dir is made private if it is new."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return data_dir / ALIVE_FILE_NAME


def run_worker(
    settings: Settings, *, concurrency: int, name: str | None = None, loglevel: str = "INFO"
) -> None:
    """Run a worker node until it is told to stop (SIGTERM or Ctrl-C)."""
    node = name or default_worker_name()
    store = Store(settings.resolved_database_url)
    store.guard_forks()  # its threads use the store while Celery forks pool children
    store.upgrade_schema()
    app = build_worker_app(settings, store)
    # Warm before forking: pool children (replacements too) inherit the compiled kernels,
    # and the worker reports in (its first beat, at worker_ready) only once it can compute,
    # naming the kinds that warmed up.
    warm_up_workloads()
    lease = Lease(
        store,
        name=node,
        interval_s=settings.worker_heartbeat_s,
        processes=concurrency,
        holding=held_task_ids,
        kinds=workload_kinds(),
        alive_file=alive_file(settings.data_dir),
    )
    duties = node_duties(settings, store, app, lease)
    drain = Drain(
        drain_s=settings.worker_drain_s,
        give_back=lambda task_ids: give_back_starts(store, node=node, task_ids=task_ids),
        on_hand_back=lease.wake,
    )
    app.steps["worker"].add(drain_step(drain, held_task_ids))

    def on_process_init(**_: Any) -> None:
        store.reset_after_fork()
        ignore_stop_signal()

    def on_ready(**_: Any) -> None:
        lease.start()
        duties.start()

    def on_shutdown(**_: Any) -> None:
        duties.stop()
        lease.stop()

    # Frozen objects are never scanned by the collector, so collections in the node or its
    # children do not write to (and so copy) the pages they share after the fork.
    gc.freeze()
    logging.getLogger("celery.worker.control").addFilter(WithoutBackendNoise())
    quiet_per_chunk_logs(loglevel)
    if settings.log_format == "json":  # Celery then leaves logging to us
        setup_logging.connect(lambda **_: use_json_logs(loglevel), weak=False)
    worker_process_init.connect(on_process_init, weak=False)
    worker_ready.connect(on_ready, weak=False)
    task_received.connect(lambda **_: lease.wake(), weak=False)
    worker_shutdown.connect(on_shutdown, weak=False)
    app.worker_main(
        [
            "worker",
            f"--hostname={node}",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            f"--queues={settings.chunk_queue},{webhook_queue(settings)}",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",  # liveness is the lease in the store, not Celery events
        ]
    )
