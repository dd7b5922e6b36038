"""Leases and the orphan sweep read the database's clock, so processes whose own clocks
disagree by far more than the TTL still agree on who is alive and what is stalled."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from chunkwise.store import Chunk, Job, Store, Worker, cache, jobs, recording, recovery, workers
from chunkwise.store import models as store_models
from chunkwise.store.clock import database_now, db_now
from tests.store.sample_jobs import make_job

TTL_S = 5.0
QUIET_S = 60.0
HOUR = timedelta(hours=1)
STORE_MODULES = (store_models, workers, jobs, recording, recovery, cache)


Clock = Callable[[timedelta], AbstractContextManager[None]]


@pytest.fixture
def process_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A context in which this process's clock is off by `skew`, as on a badly set host:
    every store module that reads the time from Python sees it skewed."""

    @contextmanager
    def skewed(skew: timedelta) -> Iterator[None]:
        def utcnow() -> datetime:
            return datetime.now(UTC) + skew

        with monkeypatch.context() as patch:
            for module in STORE_MODULES:
                patch.setattr(module, "utcnow", utcnow, raising=False)
            yield

    return skewed


@pytest.fixture(params=[HOUR, -HOUR], ids=["ahead", "behind"])
def skew(request: pytest.FixtureRequest) -> timedelta:
    """How far off the skewed process's clock is: an hour either way, far past any TTL."""
    value: timedelta = request.param
    return value


def test_the_database_clock_is_this_hosts_clock_here(store: Store) -> None:
    with store.reader() as session:
        now = database_now(session)
        ahead, behind = session.execute(select(db_now(30), db_now(-30))).one()
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)
    assert now.tzinfo is not None
    assert timedelta(seconds=59) < ahead - behind < timedelta(seconds=61)


def test_a_live_worker_is_not_reaped_by_a_skewed_peer(
    store: Store, process_clock: Clock, skew: timedelta
) -> None:
    with store.writer() as session:
        workers.heartbeat(session, name="live", holding=["job:0"])

    with process_clock(skew), store.writer() as session:
        claimed = workers.claim_dead_workers(session, ttl_s=TTL_S)
        live = workers.live_workers(session, ttl_s=TTL_S)
        held = workers.held_chunks(session, ttl_s=TTL_S)
        capacity = workers.live_capacity(session, ttl_s=TTL_S)

    assert claimed == []
    assert (live, held, capacity) == (["live"], {"live": ["job:0"]}, (1, 1))


def test_a_skewed_worker_heartbeat_keeps_it_alive(
    store: Store, process_clock: Clock, skew: timedelta
) -> None:
    with process_clock(skew), store.writer() as session:
        workers.heartbeat(session, name="skewed", holding=["job:1"])

    with store.writer() as session:
        assert workers.claim_dead_workers(session, ttl_s=TTL_S) == []
        assert workers.live_workers(session, ttl_s=TTL_S) == ["skewed"]


def test_a_silent_worker_is_reaped_by_a_skewed_peer(
    store: Store, process_clock: Clock, skew: timedelta
) -> None:
    with store.writer() as session:
        workers.heartbeat(session, name="silent", holding=["job:2"])
        workers.heartbeat(session, name="live")
        silence = update(Worker).where(Worker.name == "silent")
        session.execute(silence.values(heartbeat_at=ago(3 * TTL_S)))

    with process_clock(skew), store.writer() as session:
        assert workers.live_workers(session, ttl_s=TTL_S) == ["live"]
        claimed = workers.claim_dead_workers(session, ttl_s=TTL_S)

    assert [(dead.name, dead.holding) for dead in claimed] == [("silent", ["job:2"])]


def ago(seconds: float) -> datetime:
    """A moment `seconds` ago by this host's clock, which is the database's clock here."""
    return datetime.now(UTC) - timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("creator", "sweeper"),
    [(-HOUR, timedelta(0)), (timedelta(0), HOUR)],
    ids=["creator-behind", "sweeper-ahead"],
)
def test_a_new_job_is_not_stalled_whatever_the_clocks_say(
    store: Store, process_clock: Clock, creator: timedelta, sweeper: timedelta
) -> None:
    with process_clock(creator):
        job_id = make_job(store, chunks=3)
    with process_clock(sweeper), store.reader() as session:
        assert recovery.stalled_chunks(session, quiet_s=QUIET_S) == []
        created_at = session.scalar(select(Job.created_at).where(Job.id == job_id))
        assert created_at is not None
    assert abs(created_at - datetime.now(UTC)) < timedelta(seconds=QUIET_S)


def test_a_chunk_just_recorded_by_a_slow_clock_keeps_its_job_from_stalling(
    store: Store, process_clock: Clock
) -> None:
    job_id = make_job(store, chunks=3)
    with store.writer() as session:
        session.execute(update(Job).values(created_at=ago(10 * QUIET_S)))

    with process_clock(-HOUR), store.writer() as session:
        recording.record_chunk(session, job_id=job_id, index=0, partial=0, worker="w")
    with store.reader() as session:
        assert recovery.stalled_chunks(session, quiet_s=QUIET_S) == []

    with store.writer() as session:
        session.execute(update(Chunk).values(finished_at=ago(2 * QUIET_S)))
    with store.reader() as session:
        stalled = recovery.stalled_chunks(session, quiet_s=QUIET_S)
    assert [(chunk.job_id, chunk.index) for chunk in stalled] == [(job_id, 1), (job_id, 2)]


def test_a_job_read_after_its_commit_has_the_database_creation_time(
    store: Store, process_clock: Clock
) -> None:
    with process_clock(-HOUR), store.writer() as session:
        job = jobs.create_job(session, kind="sum_range", params={"n": 1}, specs=[{"lo": 1}])
    with store.reader() as session:
        stored = jobs.get_job(session, job_id=job.id)
    assert stored is not None
    assert job.created_at == stored.created_at
    assert abs(job.created_at - datetime.now(UTC)) < timedelta(seconds=QUIET_S)
