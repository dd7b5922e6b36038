"""Draining a worker node on stop: finish what it holds, hand back the rest, exit.

Scaling in sends SIGTERM, then SIGKILL after a grace period (WORKER_DRAIN_S + 15 s). On
SIGTERM the node:

1. stops taking chunks at once: its task consumer is cancelled;
2. gives the chunks it holds `drain_s` to finish, and stops as soon as they have;
3. past that, hands back those still running: kills their pool processes, gives their
   starts back in the store (`recording.give_back_start`, this node's start only), and
   publishes them again at once, ahead of the queue (as the reaper does), then
   acknowledges the messages it held;
4. stops as Celery's warm shutdown does (about a second), and removes its lease row
   (`Lease.stop`), so no peer's reaper waits on its lease or takes its chunks again.

The order matters. Processes die first, so nothing on this node can record or start the
chunk any more; starts are given back next, so no peer starts a chunk before its start is
given back; the new message goes out before the old one is acknowledged, so a failure in
between leaves two messages, never none. A cut-off request is cancelled
(`Request.cancel`), and the failure of a cancelled request (`Terminated`) neither acks
nor rejects its message, which is left to the hand-back.

Why not Celery's own stops: the warm shutdown waits for running chunks without bound, and
the soft shutdown (`worker_soft_shutdown_timeout`, taken on SIGQUIT) sleeps its whole
timeout inside the signal handler, on the main loop, even once every chunk is done. What
they do with a message still unacknowledged is the fallback here: it goes back when the
consumer's connection closes. RabbitMQ requeues a closed channel's unacked messages at
their place in the queue; kombu's Redis transport restores them to the head of their
priority list as the channel closes (`QoS.restore_unacked_once`, `restore_at_shutdown`).
Neither waits for the visibility timeout, but both come after the pool has stopped.

Pool processes ignore SIGTERM (`ignore_stop_signal`): systemd and process-group kills
send it to every process of the node, and a pool process that obeyed would drop its
chunk at once. The main process kills them with SIGKILL when it hands their chunks back.
SIGTERM or SIGINT drains; a second one, or SIGQUIT, hands back at once.

The drain runs on its own thread, woken by a byte that the signal handler writes to a
pipe (a handler that takes a lock can deadlock the thread it interrupts). Celery's main
loop is not thread-safe: each step that touches Celery's state runs on that loop
(`Hub.call_soon`), and the drain thread waits at most `LOOP_ANSWER_S` for it.

Failures split three ways:
- A chunk finishing at the last moment: its partial's guarded write records it once; its
  start is not given back (the give-back is guarded the same way); the copy published
  again is skipped by whoever takes it.
- The store or the broker out of reach while handing back: the give-back is bounded by
  `HAND_BACK_STORE_S`, past which the start stays counted (as for a crash); a publish that
  fails leaves the message unacknowledged, and it goes back as the connection closes.
- The main loop not answering (stuck on the broker): the node cannot stop cleanly; the
  grace period's SIGKILL ends it, and its peers' reapers take its chunks after the lease
  TTL, as for any dead node.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol, TypeVar

from celery import bootsteps
from celery.platforms import EX_OK
from celery.worker import state as worker_state

from chunkwise.engine.celery_app import chunk_task_id, parse_chunk_task_id
from chunkwise.engine.dispatch import BROKER_ERRORS, send_chunks
from chunkwise.store import Store, recording
from chunkwise.store.recovery import PendingChunk

log = logging.getLogger(__name__)

T = TypeVar("T")

DRAIN_SIGNALS = (signal.SIGTERM, signal.SIGINT)
"""The first of these drains; a second one hands back at once."""
AT_ONCE_SIGNALS = (signal.SIGQUIT,)
"""Celery's cold shutdown: hand back at once."""
HELD_POLL_S = 0.05
"""How often the drain thread looks at what the node still holds, while draining."""
LOOP_ANSWER_S = 5.0
"""How long the drain thread waits for Celery's main loop to run one of its steps."""
HAND_BACK_STORE_S = 5.0
"""How long the store may take to give back the starts of the chunks handed back."""
HAND_BACK_ROUNDS_S = 5.0
"""How long handing back goes on while a held task has not reached a process yet (it is
handed back once it has); the node stops after that anyway."""


class NodeLoop(Protocol):
    """What the drain does to its node; each method may be called from any thread."""

    def held(self) -> Sequence[str]:
        """Ids of the tasks the node has received and not finished."""

    def stop_consuming(self) -> None:
        """Take no new messages (again, if a reconnection resumed them)."""

    def cut_off(self) -> Sequence[str]:
        """Kill the processes computing held tasks; their ids. Their messages stay
        unacknowledged."""

    def requeue(self, task_ids: Sequence[str]) -> None:
        """Publish the cut-off chunks of `task_ids` again, ahead of the queue, and
        acknowledge the messages held for them (others go back as the node stops)."""

    def stop(self) -> None:
        """Stop the node as Celery's warm shutdown does, now that it computes nothing."""


class Drain:
    """The node's stop: drains for `drain_s`, then hands back what is still held.

    `give_back(task_ids)` gives back the starts of the chunks cut off; `on_hand_back` is
    called once they are back on the queue (the lease beats, naming what is left).
    """

    def __init__(
        self,
        *,
        drain_s: float,
        give_back: Callable[[Sequence[str]], object],
        on_hand_back: Callable[[], object] = lambda: None,
        give_back_s: float = HAND_BACK_STORE_S,
        rounds_s: float = HAND_BACK_ROUNDS_S,
    ) -> None:
        self.drain_s = drain_s
        self.give_back = give_back
        self.on_hand_back = on_hand_back
        self.give_back_s = give_back_s
        self.rounds_s = rounds_s
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._thread: threading.Thread | None = None

    def start(self, loop: NodeLoop) -> None:
        """Start the drain thread, which waits for the first stop signal."""
        self._thread = threading.Thread(
            target=self.run, args=(loop,), name="chunkwise-drain", daemon=True
        )
        self._thread.start()

    def install_signal_handlers(self) -> None:
        """Take SIGTERM, SIGINT and SIGQUIT over from Celery (main thread only)."""
        for sig in (*DRAIN_SIGNALS, *AT_ONCE_SIGNALS):
            signal.signal(sig, self.on_signal)

    def on_signal(self, signum: int, _frame: object = None) -> None:
        """The signal handler: hands the signal to the drain thread, and does nothing else."""
        # A full pipe holds signals the thread has yet to read: nothing is lost.
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, bytes([signum]))

    def join(self, timeout_s: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def run(self, loop: NodeLoop) -> None:
        """The drain thread: from the first stop signal to the node's stop."""
        at_once = self._next_signal(None) in AT_ONCE_SIGNALS
        log.warning(
            "stopping: no new chunks; %d held task(s) %s",
            len(loop.held()),
            "handed back now" if at_once else f"get {self.drain_s:g} s to finish",
        )
        loop.stop_consuming()
        if at_once or not self._finished_in_time(loop):
            self._hand_back(loop)
        else:
            log.info("stopping: every held task finished")
        loop.stop()

    def _finished_in_time(self, loop: NodeLoop) -> bool:
        """Wait up to `drain_s` for every held task to finish (False: some did not, or a
        second signal asked for the hand-back now)."""
        deadline = time.monotonic() + self.drain_s
        while loop.held():
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                return False
            if self._next_signal(min(HELD_POLL_S, remaining_s)) is not None:
                log.warning("stopping: asked again; handing back the held tasks now")
                return False
            loop.stop_consuming()
        return True

    def _hand_back(self, loop: NodeLoop) -> None:
        """Cut off every running held task, give back its start and requeue it; in rounds,
        until nothing is held (a task not yet in a process is handed back once it is)."""
        deadline = time.monotonic() + self.rounds_s
        while True:
            cut = loop.cut_off()
            if cut:
                log.warning("handing back %d task(s): %s", len(cut), list(cut))
                self._give_back(cut)
                loop.requeue(cut)
                self.on_hand_back()
            if not loop.held():
                return
            if time.monotonic() >= deadline:
                log.error("stopping with task(s) still held: %s", list(loop.held()))
                return
            time.sleep(HELD_POLL_S)

    def _give_back(self, task_ids: Sequence[str]) -> None:
        """`give_back(task_ids)`, waited for at most `give_back_s`."""

        def give_back() -> None:
            try:
                self.give_back(task_ids)
            except Exception as exc:
                log.warning("starts of the handed-back chunks stay counted: %s", exc)

        worker = threading.Thread(target=give_back, name="chunkwise-give-back", daemon=True)
        worker.start()
        worker.join(self.give_back_s)
        if worker.is_alive():
            log.warning(
                "the store did not give back the starts of %s within %g s; they stay counted",
                list(task_ids),
                self.give_back_s,
            )

    def _next_signal(self, timeout_s: float | None) -> int | None:
        """The next stop signal received, waiting up to `timeout_s` (None: for ever)."""
        readable, _, _ = select.select([self._wake_r], [], [], timeout_s)
        if not readable:
            return None
        return os.read(self._wake_r, 1)[0]


def give_back_starts(store: Store, *, node: str, task_ids: Sequence[str]) -> None:
    """Give back the starts `node` made of the chunks of `task_ids` (other tasks are
    passed over), so a chunk handed back on a stop does not use up one of its attempts."""
    keys = [key for task_id in task_ids if (key := parse_chunk_task_id(task_id)) is not None]
    if keys:
        with store.writer() as session:
            for job_id, index in keys:
                recording.give_back_start(session, job_id=job_id, index=index, worker=node)


def ignore_stop_signal() -> None:
    """In a pool process: leave SIGTERM to the node's main process, which drains."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class CeleryLoop:
    """A Celery worker as the drain's `NodeLoop`: each step runs on its main loop."""

    def __init__(self, worker: Any, held: Callable[[], Sequence[str]]) -> None:
        self.worker = worker
        self._held = held
        self._cancelled: object = None
        """The task consumer cancelled last (a reconnection makes a new one)."""
        self._cut: dict[str, Any] = {}
        """The requests cut off, by task id, until their messages are acknowledged."""

    def held(self) -> Sequence[str]:
        return self._held()

    def stop_consuming(self) -> None:
        if self.worker.consumer.task_consumer is not self._cancelled:
            self._on_loop(self._cancel_task_consumer)

    def cut_off(self) -> Sequence[str]:
        return self._on_loop(self._kill_running) or []

    def requeue(self, task_ids: Sequence[str]) -> None:
        keys = [key for task_id in task_ids if (key := parse_chunk_task_id(task_id)) is not None]
        try:
            send_chunks(self.worker.app, [PendingChunk(*key) for key in keys], urgent=True)
        except BROKER_ERRORS as exc:
            log.warning("handed-back chunks go back as the node stops: %s", exc)
            return
        sent = [chunk_task_id(*key) for key in keys]
        self._on_loop(lambda: self._acknowledge(sent))

    def stop(self) -> None:
        worker_state.should_stop = EX_OK  # what Celery's warm shutdown handler sets
        self.worker.hub.call_soon(_nothing)  # wakes the loop, which then sees it

    def _cancel_task_consumer(self) -> None:
        task_consumer = self.worker.consumer.task_consumer
        if task_consumer is not None:
            task_consumer.cancel()
        self._cancelled = task_consumer

    def _kill_running(self) -> list[str]:
        cut = []
        for request in list(worker_state.active_requests):
            if request.time_start and request.worker_pid:
                request.cancel(self.worker.pool, signal="SIGKILL", emit_retry=False)
                self._cut[request.id] = request
                cut.append(request.id)
        return cut

    def _acknowledge(self, task_ids: Sequence[str]) -> None:
        for task_id in task_ids:
            request = self._cut.pop(task_id, None)
            if request is not None:
                request.acknowledge()

    def _on_loop(self, step: Callable[[], T]) -> T | None:
        """Run `step` on the main loop and return what it returns (None, logged, if the
        loop did not run it within LOOP_ANSWER_S or it raised)."""
        answer: Future[T] = Future()

        def run() -> None:
            try:
                answer.set_result(step())
            except BaseException as exc:
                answer.set_exception(exc)

        self.worker.hub.call_soon(run)
        try:
            return answer.result(timeout=LOOP_ANSWER_S)
        except FutureTimeout:
            log.error("the worker's main loop did not answer within %g s", LOOP_ANSWER_S)
        except Exception:
            log.exception("a drain step failed on the worker's main loop")
        return None


def _nothing() -> None:
    pass


def drain_step(drain: Drain, held: Callable[[], Sequence[str]]) -> type[Any]:
    """A worker bootstep that starts `drain` on the worker and takes its stop signals over.

    It starts after the pool and before the consumer (Celery starts that one last), once
    Celery has installed its own signal handlers, so the drain's replace them.
    """

    class Draining(bootsteps.StartStopStep):  # type: ignore[misc]
        requires = ("celery.worker.components:Pool",)

        def start(self, worker: Any) -> None:
            if worker.hub is None:  # a transport without an event loop (memory://)
                log.warning("no event loop: a stop waits for held tasks (Celery's warm stop)")
                return
            drain.start(CeleryLoop(worker, held))
            drain.install_signal_handlers()

    return Draining
