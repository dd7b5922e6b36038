"""A worker node's stop, without Celery's processes: the drain's policy against a node it
drives through `NodeLoop` (here a fake), the Celery side of that interface against fake
requests and kombu's in-memory transport, and the store's give-back on a real SQLite store.

The policy: on the first SIGTERM the node stops consuming; held tasks that finish within
`drain_s` are left alone; those still running after it are cut off, their starts given
back, then published again; then the node stops. SIGQUIT, or a second SIGTERM, hands back
at once. Neither a store that hangs nor one that fails holds up the stop. And a chunk cut
off on its last attempt is handed back, not taken for a lost process that fails its job."""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from billiard.einfo import ExceptionInfo
from billiard.exceptions import WorkerLostError
from celery import Celery
from celery.contrib.testing.mocks import TaskMessage
from celery.worker import state as worker_state
from kombu.exceptions import OperationalError as KombuOperationalError

from chunkwise.engine import ChunkRunner
from chunkwise.engine.celery_app import RUN_CHUNK_TASK, chunk_task_id
from chunkwise.engine.tasks import ChunkRequest, register_tasks
from chunkwise.store import Store, jobs, recording
from chunkwise.worker import drain as drain_module
from chunkwise.worker.drain import CeleryLoop, Drain, drain_step, give_back_starts
from chunkwise.workloads import get_workload
from tests.memory_broker import take_published
from tests.store.conftest import BACKENDS
from tests.waiting import wait_for

JOB = uuid.UUID("00000000-0000-4000-8000-000000000001")
CHUNK_0, CHUNK_1 = chunk_task_id(JOB, 0), chunk_task_id(JOB, 1)
WEBHOOK = "a-webhook-task-id"


class FakeLoop:
    """A node whose held tasks the test controls; it records what the drain did to it,
    along with the drain's give-backs and hand-backs, in one ordered list."""

    def __init__(self, running: Sequence[str] = (), waiting: Sequence[str] = ()) -> None:
        self.running = set(running)
        self.waiting = set(waiting)
        """Received, not yet in a process: taken by one when the first cut-off is done."""
        self.calls: list[tuple[str, list[str]]] = []
        self.stopped = threading.Event()
        self._lock = threading.Lock()

    def held(self) -> Sequence[str]:
        with self._lock:
            return sorted(self.running | self.waiting)

    def finish(self, task_id: str) -> None:
        with self._lock:
            self.running.discard(task_id)

    def record(self, call: str, task_ids: Sequence[str] = ()) -> None:
        with self._lock:
            self.calls.append((call, list(task_ids)))

    def stop_consuming(self) -> None:
        if not self.named("stop_consuming"):
            self.record("stop_consuming")

    def cut_off(self) -> Sequence[str]:
        with self._lock:
            cut, self.running = sorted(self.running), self.waiting
            self.waiting = set()
        self.record("cut_off", cut)
        return cut

    def requeue(self, task_ids: Sequence[str]) -> None:
        self.record("requeue", task_ids)

    def stop(self) -> None:
        self.record("stop")
        self.stopped.set()

    def named(self, call: str) -> list[list[str]]:
        with self._lock:
            return [task_ids for name, task_ids in self.calls if name == call]

    def order(self) -> list[str]:
        with self._lock:
            return [name for name, _ in self.calls]


@pytest.fixture
def started() -> Iterator[list[Drain]]:
    """Drains a test started; their threads are joined after it."""
    drains: list[Drain] = []
    yield drains
    for drain in drains:
        drain.join(timeout_s=10)


def start_drain(started: list[Drain], loop: FakeLoop, drain_s: float, **options: Any) -> Drain:
    drain = Drain(
        drain_s=drain_s,
        give_back=lambda task_ids: loop.record("give_back", task_ids),
        on_hand_back=lambda: loop.record("on_hand_back"),
        **options,
    )
    drain.start(loop)
    started.append(drain)
    return drain


def stop_within(loop: FakeLoop, timeout_s: float) -> float:
    """Seconds until the drain stopped its node."""
    began = time.monotonic()
    wait_for(loop.stopped.is_set, timeout_s=timeout_s, interval_s=0.01, what="the node to stop")
    return time.monotonic() - began


def test_held_tasks_that_finish_within_the_drain_are_not_handed_back(
    started: list[Drain],
) -> None:
    # Given a node computing a chunk, with a long drain
    loop = FakeLoop(running=[CHUNK_0])
    drain = start_drain(started, loop, drain_s=60)

    # When SIGTERM arrives, the node stops consuming at once
    drain.on_signal(signal.SIGTERM)
    wait_for(lambda: loop.named("stop_consuming"), timeout_s=5, what="consuming to stop")
    assert not loop.stopped.is_set()

    # Then once its chunk finishes, it stops at once, having handed nothing back
    loop.finish(CHUNK_0)
    assert stop_within(loop, timeout_s=5) < 5
    assert loop.order() == ["stop_consuming", "stop"]


def test_a_node_holding_nothing_stops_at_once(started: list[Drain]) -> None:
    loop = FakeLoop()
    drain = start_drain(started, loop, drain_s=60)

    drain.on_signal(signal.SIGTERM)

    assert stop_within(loop, timeout_s=5) < 5
    assert loop.order() == ["stop_consuming", "stop"]


def test_tasks_still_running_after_the_drain_are_handed_back_then_the_node_stops(
    started: list[Drain],
) -> None:
    # Given a node computing a chunk and sending a webhook, with a short drain
    loop = FakeLoop(running=[CHUNK_0, WEBHOOK])
    drain = start_drain(started, loop, drain_s=0.3)

    # When SIGTERM arrives and neither finishes
    signalled = time.monotonic()
    drain.on_signal(signal.SIGTERM)
    wait_for(loop.stopped.is_set, timeout_s=5, what="the node to stop")

    # Then after the drain, both are cut off, their starts given back, then requeued
    assert time.monotonic() - signalled >= 0.3
    both = sorted([CHUNK_0, WEBHOOK])
    assert loop.calls == [
        ("stop_consuming", []),
        ("cut_off", both),
        ("give_back", both),
        ("requeue", both),
        ("on_hand_back", []),
        ("stop", []),
    ]


@pytest.mark.parametrize(
    "signals",
    [[signal.SIGQUIT], [signal.SIGTERM, signal.SIGTERM], [signal.SIGINT, signal.SIGTERM]],
    ids=["sigquit", "second-sigterm", "sigint-then-sigterm"],
)
def test_sigquit_or_a_second_stop_signal_hands_back_at_once(
    started: list[Drain], signals: list[int]
) -> None:
    loop = FakeLoop(running=[CHUNK_0])
    drain = start_drain(started, loop, drain_s=60)

    for signum in signals:
        drain.on_signal(signum)

    assert stop_within(loop, timeout_s=5) < 5
    assert loop.named("requeue") == [[CHUNK_0]]


def test_a_task_not_yet_in_a_process_is_handed_back_once_it_is(started: list[Drain]) -> None:
    # Given a chunk running and another received but not yet in a process
    loop = FakeLoop(running=[CHUNK_0], waiting=[CHUNK_1])
    drain = start_drain(started, loop, drain_s=0)

    # When the node stops at once
    drain.on_signal(signal.SIGTERM)
    stop_within(loop, timeout_s=5)

    # Then each is cut off, given back and requeued once it runs
    assert loop.named("cut_off")[:2] == [[CHUNK_0], [CHUNK_1]]
    assert loop.named("give_back") == [[CHUNK_0], [CHUNK_1]]
    assert loop.named("requeue") == [[CHUNK_0], [CHUNK_1]]


def test_a_store_that_hangs_does_not_hold_up_the_stop(started: list[Drain]) -> None:
    loop = FakeLoop(running=[CHUNK_0])
    never = threading.Event()
    drain = Drain(drain_s=0, give_back=lambda _: never.wait(30), give_back_s=0.2)
    drain.start(loop)
    started.append(drain)

    drain.on_signal(signal.SIGTERM)

    try:
        assert stop_within(loop, timeout_s=5) < 5
        assert loop.named("requeue") == [[CHUNK_0]]  # the chunk still goes back at once
    finally:
        never.set()


def test_a_store_error_is_logged_and_the_stop_goes_on(
    started: list[Drain], caplog: pytest.LogCaptureFixture
) -> None:
    def failing(_: Sequence[str]) -> None:
        raise ConnectionError("the store does not answer")

    loop = FakeLoop(running=[CHUNK_0])
    drain = Drain(drain_s=0, give_back=failing)
    drain.start(loop)
    started.append(drain)

    with caplog.at_level(logging.WARNING, logger=drain_module.__name__):
        drain.on_signal(signal.SIGTERM)
        stop_within(loop, timeout_s=5)

    assert loop.named("requeue") == [[CHUNK_0]]
    assert "stay counted" in caplog.text


def test_pool_processes_ignore_sigterm() -> None:
    before = signal.getsignal(signal.SIGTERM)
    try:
        drain_module.ignore_stop_signal()
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, before)


# The store: only this node's start of an unrecorded chunk is given back.


@pytest.fixture(params=BACKENDS)
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store on SQLite, and on PostgreSQL when CHUNKWISE_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("new_postgres_database")()
    store = Store(url)
    store.upgrade_schema()
    yield store
    store.dispose()


def started_job(store: Store) -> uuid.UUID:
    """A sum_range job of three chunks: 0 started by node-a, 1 by node-b, 2 started and
    recorded by node-a."""
    workload = get_workload("sum_range")
    specs = workload.split(workload.params_model.model_validate({"n": 30}), 3)
    with store.writer() as session:
        job_id = jobs.create_job(session, kind="sum_range", params={"n": 30}, specs=specs).id
    with store.write_connection() as connection:
        for index, worker in enumerate(["node-a", "node-b", "node-a"]):
            recording.start_chunk(
                connection, job_id=job_id, index=index, max_attempts=5, worker=worker
            )
        recording.record_chunk(connection, job_id=job_id, index=2, partial=1, worker="node-a")
    return job_id


def test_a_stopping_node_gives_back_only_its_own_starts_of_unrecorded_chunks(
    any_store: Store,
) -> None:
    store = any_store
    job_id = started_job(store)

    give_back_starts(
        store,
        node="node-a",
        task_ids=[chunk_task_id(job_id, index) for index in range(3)] + [WEBHOOK],
    )

    with store.reader() as session:
        chunks = jobs.list_chunks(session, job_id=job_id)
    assert [(chunk.attempts, chunk.worker) for chunk in chunks] == [
        (0, None),  # node-a's start, given back
        (1, "node-b"),  # another node's start stays
        (1, "node-a"),  # recorded: nothing to give back
    ]


# The Celery side: what CeleryLoop does to requests and the broker, on a fake main loop.


class LoopThreadHub:
    """Stands in for kombu's hub: runs what is scheduled on a loop thread of its own."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def call_soon(self, callback: Any) -> None:
        thread = threading.Thread(target=callback, name="fake-main-loop")
        thread.start()
        self.threads.append(thread)


@dataclass(eq=False)
class FakeRequest:
    """The parts of a Celery request the drain uses."""

    id: str
    time_start: float | None = None
    worker_pid: int | None = None
    cancelled_with: list[dict[str, Any]] = field(default_factory=list)
    acknowledged: bool = False

    def cancel(self, pool: object, signal: str, emit_retry: bool) -> None:
        self.cancelled_with.append({"signal": signal, "emit_retry": emit_retry})
        worker_state.active_requests.discard(self)

    def acknowledge(self) -> None:
        self.acknowledged = True


@dataclass
class FakeWorker:
    app: Celery
    hub: Any = field(default_factory=LoopThreadHub)
    pool: object = "the pool"
    consumer: Any = None


@pytest.fixture
def active() -> Iterator[set[Any]]:
    """Celery's set of active requests (global to the process), emptied after the test."""
    yield worker_state.active_requests
    worker_state.active_requests.clear()


def test_a_cut_off_kills_the_processes_of_running_requests_only(
    memory_celery: Celery, active: set[Any]
) -> None:
    running = FakeRequest(CHUNK_0, time_start=time.time(), worker_pid=1234)
    not_yet = FakeRequest(CHUNK_1)
    active.update({running, not_yet})
    loop = CeleryLoop(FakeWorker(memory_celery), held=lambda: [])

    assert loop.cut_off() == [CHUNK_0]

    assert running.cancelled_with == [{"signal": "SIGKILL", "emit_retry": False}]
    assert not_yet.cancelled_with == []
    assert set(active) == {not_yet}


def test_a_requeue_publishes_the_chunks_ahead_of_the_queue_then_acknowledges_them(
    memory_celery: Celery, active: set[Any]
) -> None:
    chunk = FakeRequest(CHUNK_0, time_start=time.time(), worker_pid=1234)
    webhook = FakeRequest(WEBHOOK, time_start=time.time(), worker_pid=1235)
    active.update({chunk, webhook})
    loop = CeleryLoop(FakeWorker(memory_celery), held=lambda: [])
    cut = loop.cut_off()

    loop.requeue(cut)

    assert [(message.job_id, message.index) for message in take_published(memory_celery)] == [
        (JOB, 0)
    ]
    assert chunk.acknowledged
    assert not webhook.acknowledged  # it goes back as the node's connection closes


def test_a_requeue_the_broker_refuses_leaves_the_message_held(
    memory_celery: Celery, active: set[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*_: Any, **__: Any) -> None:
        raise KombuOperationalError("the broker does not answer")

    monkeypatch.setattr(drain_module, "send_chunks", refused)
    chunk = FakeRequest(CHUNK_0, time_start=time.time(), worker_pid=1234)
    active.add(chunk)
    loop = CeleryLoop(FakeWorker(memory_celery), held=lambda: [])

    loop.requeue(loop.cut_off())

    assert not chunk.acknowledged  # so it goes back as the connection closes


def test_consuming_stops_once_per_task_consumer(memory_celery: Celery) -> None:
    @dataclass
    class TaskConsumer:
        cancels: int = 0

        def cancel(self) -> None:
            self.cancels += 1

    @dataclass
    class Consumer:
        task_consumer: TaskConsumer

    first = TaskConsumer()
    worker = FakeWorker(memory_celery, consumer=Consumer(first))
    loop = CeleryLoop(worker, held=lambda: [])

    loop.stop_consuming()
    loop.stop_consuming()
    worker.consumer.task_consumer = second = TaskConsumer()  # a reconnection
    loop.stop_consuming()

    assert (first.cancels, second.cancels) == (1, 1)


def test_the_step_leaves_a_worker_without_an_event_loop_to_celery(
    memory_celery: Celery,
) -> None:
    drain = Drain(drain_s=1, give_back=lambda _: None)
    step = drain_step(drain, held=lambda: [])(parent=None)
    handler = signal.getsignal(signal.SIGTERM)

    step.start(FakeWorker(memory_celery, hub=None))

    assert signal.getsignal(signal.SIGTERM) == handler


def test_a_cut_off_chunk_on_its_last_attempt_is_handed_back_not_failed(
    store: Store, memory_celery: Celery, active: set[Any]
) -> None:
    # Given a chunk on its last attempt, running in a pool process
    runner = ChunkRunner(store, {}, max_attempts=1)
    task = register_tasks(memory_celery, runner, retry_backoff_s=0.5, hard_time_limit_s=None)
    job_id = started_job(store)
    rejected: list[bool] = []
    request = ChunkRequest(
        TaskMessage(RUN_CHUNK_TASK, id=chunk_task_id(job_id, 0), args=(str(job_id), 0)),
        app=memory_celery,
        task=task,
        on_ack=lambda *_: None,
        on_reject=lambda _logger, _errors, requeue: rejected.append(requeue),
    )
    request.on_accepted(pid=4321, time_accepted=time.monotonic())

    # When a stopping node cuts it off, and the pool reports its process lost
    killed: list[tuple[int, int]] = []

    @dataclass
    class Pool:
        def terminate_job(self, pid: int, sig: int) -> None:
            killed.append((pid, sig))

    request.cancel(Pool(), signal="SIGKILL", emit_retry=False)
    try:
        raise WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL).")
    except WorkerLostError:
        request.on_failure(ExceptionInfo())

    # Then its job runs on: the chunk goes back, however many attempts it has used
    assert killed == [(4321, signal.SIGKILL)]
    with store.reader() as session:
        job = jobs.get_job(session, job_id=job_id)
    assert job is not None and job.state != "FAILURE"
    assert rejected in ([], [True])  # left for the hand-back, or requeued: never acked
