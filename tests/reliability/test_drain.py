"""Scaling in: a worker node stopped with SIGTERM (to its whole process group, as systemd
and `kill -- -pgid` send it) takes no new chunk, lets the chunk it holds finish within
WORKER_DRAIN_S, hands it back past that (published again at once, its start not counted),
and exits. No job waits for a lease to expire, and every chunk is recorded once. Each test
prints what it measured."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import pytest

from chunkwise.store import jobs
from chunkwise.store import workers as worker_rows
from chunkwise.store.models import Chunk
from tests.live import LiveSystem
from tests.reliability.conftest import DEFAULT_TTL_S, SystemFactory
from tests.reliability.faulty import chunk_events
from tests.reliability.test_crashes import PI_1E8, held_running_chunk
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

GRACE_S = 15.0
"""What the orchestrator adds to WORKER_DRAIN_S before it SIGKILLs the node."""


def slow_job(live: LiveSystem, log_dir: Path, *, chunk_s: float, chunks: int) -> str:
    params = {"n": 10**8, "chunk_s": chunk_s, "log_dir": str(log_dir)}
    return live.submit("slow_prime_count", params, chunks)


def holder(live: LiveSystem, log_dir: Path) -> tuple[str, int] | None:
    """A worker computing a chunk, and the chunk's index, if any is."""
    for name in live.worker_names:
        index = held_running_chunk(live, name, log_dir)
        if index is not None:
            return name, index
    return None


def stop(live: LiveSystem, name: str) -> tuple[float, float]:
    """SIGTERM worker `name`'s process group; when it was sent (wall clock, as the chunk
    logs), and how many seconds the node took to exit."""
    signalled_at, began = time.time(), time.monotonic()
    live.kill_worker(name, signal.SIGTERM)
    wait_for(
        lambda: live.group.returncode(name) is not None,
        timeout_s=60,
        interval_s=0.01,
        what=f"{name} to exit",
    )
    return signalled_at, time.monotonic() - began


def chunk_row(live: LiveSystem, job_id: str, index: int) -> Chunk:
    with live.store.reader() as session:
        return jobs.list_chunks(session, job_id=uuid.UUID(job_id))[index]


def assert_left_no_lease(live: LiveSystem, name: str) -> None:
    """The node's row is gone: no reaper will wait on it or take its chunks again."""
    with live.store.reader() as session:
        assert name not in worker_rows.held_chunks(session, ttl_s=3600)


def assert_exact(live: LiveSystem, job_id: str, chunks: int) -> None:
    job = live.wait_finished(job_id, timeout_s=120)
    assert job["state"] == "SUCCESS", job["error"]
    assert job["result"]["prime_count"] == PI_1E8
    assert job["progress"] == {"completed": chunks, "total": chunks, "cached": 0}


def test_a_chunk_still_running_after_the_drain_is_handed_back_at_once(
    system_with: SystemFactory, log_dir: Path
) -> None:
    drain_s = 1.0
    with system_with(CHUNKWISE_WORKER_DRAIN_S=str(drain_s)) as live:
        # Given a one-chunk job, far longer than the drain, computing on one node
        job_id = slow_job(live, log_dir, chunk_s=6.0, chunks=1)
        victim, index = wait_for(
            lambda: holder(live, log_dir), timeout_s=30, interval_s=0.01, what="a chunk running"
        )
        (survivor,) = set(live.worker_names) - {victim}

        # When that node is told to stop
        signalled_at, exit_s = stop(live, victim)

        # Then it exits well within the grace period, cleanly, leaving no lease behind
        print(f"\nhanded back: {victim} exited {exit_s:.2f} s after SIGTERM")
        assert exit_s < drain_s + 5.0 < drain_s + GRACE_S
        assert live.group.returncode(victim) == 0
        assert_left_no_lease(live, victim)

        # And its chunk runs again on the other node right after the drain, before the
        # lease TTL could even have let a reaper act
        restarted = wait_for(
            lambda: [t for t in chunk_events(log_dir, index, "start") if t > signalled_at],
            timeout_s=10,
            interval_s=0.01,
            what=f"chunk {index} to run again",
        )
        again_s = restarted[0] - signalled_at
        print(f"handed back: chunk {index} running again {again_s:.2f} s after SIGTERM")
        assert again_s < drain_s + 1.0 < DEFAULT_TTL_S

        # And the job is exact, the chunk recorded by the other node, its cut-off start not
        # counted: one attempt, though it started twice
        assert_exact(live, job_id, chunks=1)
        chunk = chunk_row(live, job_id, index)
        assert (chunk.worker, chunk.attempts) == (survivor, 1)
        assert len(chunk_events(log_dir, index, "start")) == 2


def test_a_chunk_that_finishes_within_the_drain_is_recorded_by_its_node(
    system_with: SystemFactory, log_dir: Path
) -> None:
    with system_with(CHUNKWISE_WORKER_DRAIN_S="30") as live:
        # Given a job of two-second chunks under way on both nodes
        chunks = 6
        job_id = slow_job(live, log_dir, chunk_s=2.0, chunks=chunks)
        victim, index = wait_for(
            lambda: holder(live, log_dir), timeout_s=30, interval_s=0.01, what="a chunk running"
        )

        # When that node is told to stop mid-chunk
        signalled_at, exit_s = stop(live, victim)

        # Then it finishes the chunk, and exits soon after, well before the drain ends
        (ended_at,) = chunk_events(log_dir, index, "end")
        print(
            f"\ndrained: {victim} finished chunk {index} {ended_at - signalled_at:.2f} s "
            f"after SIGTERM, and exited {exit_s:.2f} s after SIGTERM"
        )
        assert ended_at > signalled_at
        assert exit_s < (ended_at - signalled_at) + 5.0 < 30
        assert live.group.returncode(victim) == 0
        assert_left_no_lease(live, victim)

        # And the chunk is recorded by that node, started once
        assert_exact(live, job_id, chunks=chunks)
        chunk = chunk_row(live, job_id, index)
        assert (chunk.worker, chunk.attempts) == (victim, 1)
        assert len(chunk_events(log_dir, index, "start")) == 1

        # And it took no chunk after SIGTERM
        with live.store.reader() as session:
            recorded = jobs.list_chunks(session, job_id=uuid.UUID(job_id))
        taken = [c.index for c in recorded if c.worker == victim]
        assert all(chunk_events(log_dir, i, "start")[0] < signalled_at for i in taken)
