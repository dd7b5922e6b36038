"""deploy/ through what happens to a deployment: each fault comes in the middle of a long
job (π(10^11) by sieving, some chunks done and others running), and the job still comes
back exact. The time each recovery took goes in the timing table.

Each test starts from the baseline stack (three workers, every service running) and
leaves what it changed for the next one's baseline to restore. Polling a job tries again
after what an outage gives for a while (502, 503, no answer), as a careful client does;
how many it met is noted in the table.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from chunkwise.schemas import ChunkList
from tests.deploy.compose import Container
from tests.deploy.conftest import DEPLOY_TIMEOUT_S, WORKER_DRAIN_S, WORKER_TTL_S, Account
from tests.deploy.host import podman
from tests.deploy.jobs import LongJob, chunks
from tests.deploy.stack import WORKERS, FollowedLogs, Stack, following_logs, tails
from tests.deploy.timings import Timings
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(DEPLOY_TIMEOUT_S)]

ME_CALLS = 12
RECREATE_REQUEST_TIMEOUT_S = 10.0
HANDBACK_BOUND_S = WORKER_DRAIN_S + 8.0
"""A stopping worker's chunks must be free again within its drain and a margin: well
before its lease would run out (WORKER_TTL_S)."""
assert HANDBACK_BOUND_S < WORKER_TTL_S


@pytest.fixture
def baseline(stack: Stack) -> Stack:
    """The stack with its three workers, every service running, seen through nginx."""
    stack.scale_workers(WORKERS)
    stack.wait_ready()
    return stack


def _chunks(stack: Stack, account: Account, job: LongJob) -> ChunkList | None:
    with stack.http(account.token) as http:
        return chunks(http, job.job)


def _node_host(node: str) -> str:
    """Worker node names end in @<hostname>; a container's hostname is its short id."""
    return node.rpartition("@")[2]


def _runs(container: Container, node: str | None) -> bool:
    host = _node_host(node or "")
    return bool(host) and (container.hostname == host or container.id.startswith(host))


def _passed_note(passed: list[str]) -> str:
    return f"{len(passed)} answer(s) 502/503/none while polling" if passed else ""


def test_a_worker_killed_mid_job(baseline: Stack, account: Account, timings: Timings) -> None:
    stack = baseline
    with stack.client(account.token) as client:
        # Given a long job mid-way, and a worker computing some of its chunks
        job = LongJob.submit(client)
        with stack.http(account.token) as http:
            job.mid_way(http)

        def held() -> tuple[Container, set[int]] | None:
            found = _chunks(stack, account, job)
            running = [c for c in found.items if c.state == "running"] if found else []
            for container in stack.compose.containers("worker"):
                mine = {c.index for c in running if _runs(container, c.worker)}
                if mine:
                    return container, mine
            return None

        victim, indexes = wait_for(held, timeout_s=60, what="a worker holding a chunk")

        # When that worker's container is SIGKILLed
        podman("kill", "--signal", "KILL", victim.id)
        killed_at = time.monotonic()

        # Then each of its chunks is done or running on another worker, once its lease
        # has run out, and the job comes back exact
        def taken_over() -> bool:
            found = _chunks(stack, account, job)
            if found is None:
                return False
            now = {c.index: c for c in found.items}
            return all(
                now[i].state == "done"
                or (now[i].state == "running" and not _runs(victim, now[i].worker))
                for i in indexes
            )

        wait_for(taken_over, timeout_s=WORKER_TTL_S + 90, interval_s=0.2, what="a takeover")
        recovered_s = time.monotonic() - killed_at
        passed: list[str] = []
        job.assert_exact(passed=passed)
    note = f"{len(indexes)} chunk(s); lease TTL {WORKER_TTL_S} s"
    timings.add("worker SIGKILLed: its chunks running again", recovered_s, note)
    timings.add("worker SIGKILLed: job end after the kill", time.monotonic() - killed_at)


@pytest.mark.parametrize("service", ["postgres", "redis"])
def test_a_store_or_broker_restart_mid_job(
    baseline: Stack, account: Account, timings: Timings, service: str
) -> None:
    stack = baseline
    with stack.client(account.token) as client:
        # Given a long job mid-way
        job = LongJob.submit(client)
        with stack.http(account.token) as http:
            job.mid_way(http)

        # When the service is restarted under it
        started = time.monotonic()
        stack.compose.run("restart", service)
        restarted_s = time.monotonic() - started

        # Then the job comes back exact, and every service is ready again
        passed: list[str] = []
        job.assert_exact(passed=passed)
        ended_s = time.monotonic() - started
    stack.wait_ready()
    timings.add(f"{service} restarted mid-job: job end after it", ended_s, _passed_note(passed))
    timings.add(f"  ({service}'s restart itself)", restarted_s)


def test_workers_scale_in_mid_job(baseline: Stack, account: Account, timings: Timings) -> None:
    stack = baseline
    before = stack.compose.containers("worker")
    with (
        stack.client(account.token) as client,
        following_logs(before, stack.scratch) as logs,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        # Given a long job mid-way, on three workers
        job = LongJob.submit(client)
        with stack.http(account.token) as http:
            at_start = job.mid_way(http)

        # When they are scaled in to one (the stop runs on; the chunks are watched meanwhile)
        started = time.monotonic()
        stopping = pool.submit(stack.scale_workers, 1)
        timeline = Timeline(stack, account, job, started, logs)
        wait_for(lambda: timeline.sample() and stopping.done(), timeout_s=120, what="the stop")
        stop_s = time.monotonic() - started
        stopped = [c for c in before if c not in stack.compose.containers("worker")]
        assert len(stopped) == WORKERS - 1, stopped
        asked_s = _stop_asked_s(stopping.result(), stopped, started)
        handed = {c.index for c in at_start.items if any(_runs(w, c.worker) for w in stopped)}

        # Then the stopping workers' chunks were free at once (handed back on SIGTERM),
        # not when their leases ran out, and the job comes back exact on the one left
        wait_for(lambda: timeline.sample() and timeline.free(stopped), timeout_s=60, what="free")
        view = job.assert_exact()
        ended_s = time.monotonic() - started
    free_s = timeline.free_since(stopped) - asked_s
    note = f"{len(handed)} chunk(s) held; compose took {stop_s:.1f} s"
    timings.add("scale-in 3 -> 1: chunks free after the SIGTERM", free_s, note)
    timings.add("scale-in 3 -> 1: job end after the scale-in", ended_s)
    assert free_s < HANDBACK_BOUND_S, (
        f"chunks were shown running on the stopping workers until {free_s:.1f} s after "
        f"compose asked them to stop (at {asked_s:.1f} s; drain {WORKER_DRAIN_S} s, lease "
        f"TTL {WORKER_TTL_S} s; compose took {stop_s:.1f} s)\n{timeline.describe(stopped)}\n"
        + tails({c.name: logs.files[c.name] for c in stopped})
    )
    remaining = view.progress.total - sum(c.state == "done" for c in at_start.items)
    bound_s = _scale_in_bound_s(stack, account, job, remaining)
    assert ended_s < bound_s, (
        f"the job ended {ended_s:.1f} s after the scale-in, over {bound_s:.1f}"
    )


def _stop_asked_s(output: list[tuple[float, str]], stopped: list[Container], t0: float) -> float:
    """When compose asked the first of `stopped` to stop, in seconds after t0 (it prints
    "Stopping [and removing] <name> ..." then); 0 if it did not say."""
    asked = [
        at
        for at, line in output
        for c in stopped
        if re.match(rf"Stopping (?:and removing )?{re.escape(c.name)}\s", line)
    ]
    return min(asked) - t0 if asked else 0.0


class Timeline:
    """The job's chunks, read over and over while workers stop: when each sample came,
    and when each stopping container's log ended (it exited)."""

    def __init__(
        self, stack: Stack, account: Account, job: LongJob, started: float, logs: FollowedLogs
    ) -> None:
        self.stack, self.account, self.job, self.started = stack, account, job, started
        self.logs = logs
        self.samples: list[tuple[float, ChunkList]] = []

    def sample(self) -> bool:
        found = _chunks(self.stack, self.account, self.job)
        now = time.monotonic() - self.started
        self.logs.note_ends(now)
        if found is not None:
            self.samples.append((now, found))
        return True

    def free(self, stopped: list[Container]) -> bool:
        """Whether the last sample has no chunk running on a stopped worker."""
        return bool(self.samples) and not _held_by(self.samples[-1][1], stopped)

    def free_since(self, stopped: list[Container]) -> float:
        """When the samples stopped showing chunks running on the stopped workers."""
        last_held = [at for at, found in self.samples if _held_by(found, stopped)]
        later = [at for at, _ in self.samples if not last_held or at > last_held[-1]]
        return later[0] if later else float("inf")

    def describe(self, stopped: list[Container]) -> str:
        """When each chunk was shown running on a stopped worker, and when each exited."""
        spans: dict[tuple[int, str], list[float]] = {}
        for at, found in self.samples:
            for chunk in found.items:
                if chunk.state == "running" and any(_runs(w, chunk.worker) for w in stopped):
                    spans.setdefault((chunk.index, str(chunk.worker)), []).append(at)
        lines = [
            f"chunk {index} running on {node}: {min(ats):.1f} s to {max(ats):.1f} s"
            for (index, node), ats in sorted(spans.items())
        ]
        lines += [f"{name} exited by {at:.1f} s" for name, at in sorted(self.logs.ended_at.items())]
        return "\n".join(lines)


def _held_by(found: ChunkList, containers: list[Container]) -> bool:
    return any(c.state == "running" and _runs(s, c.worker) for c in found.items for s in containers)


def _scale_in_bound_s(stack: Stack, account: Account, job: LongJob, remaining: int) -> float:
    """What the one worker left needs for the chunks not done at the scale-in, in rounds of
    its processes at the longest chunk time this job saw, plus the drain and a margin. A
    chunk left to a lease running out would add the stop and WORKER_TTL_S."""
    found = _chunks(stack, account, job)
    assert found is not None
    longest_s = max(c.duration_sec or 0.0 for c in found.items)
    with stack.http(account.token) as http:
        workers = http.get("/api/workers").json()["items"]
    processes = sum(int(w["concurrency"]) for w in workers) or 1
    rounds = -(-remaining // processes)
    return WORKER_DRAIN_S + rounds * longest_s + 10.0


def test_api_replicas_recreated(baseline: Stack, account: Account, timings: Timings) -> None:
    stack = baseline
    old = {c.id for c in stack.compose.containers("api")}

    # When the API replicas are recreated, with new addresses
    started = time.monotonic()
    stack.compose.run("up", "-d", "--force-recreate", "--no-deps", "api")
    recreate_s = time.monotonic() - started
    assert not old & {c.id for c in stack.compose.containers("api")}

    # Then nginx finds the new ones (it looks `api` up again), and the login made before
    # still works on every one of them. Meanwhile a request may meet no replica (502),
    # or an old address nginx still holds (it waits to connect): tried again.
    failed: list[str] = []

    def all_answer() -> bool:
        with stack.http(account.token, timeout_s=RECREATE_REQUEST_TIMEOUT_S) as http:
            try:
                answers = [http.get("/api/auth/me").status_code for _ in range(ME_CALLS)]
            except httpx.HTTPError as exc:
                failed.append(type(exc).__name__)
                return False
        failed.extend(str(status) for status in answers if status != 200)
        return answers == [200] * ME_CALLS

    wait_for(all_answer, timeout_s=180, interval_s=0.5, what="requests through nginx again")
    tries = ", ".join(f"{what} x{count}" for what, count in Counter(failed).items()) or "none"
    note = f"compose took {recreate_s:.1f} s; failed tries on the way: {tries}"
    timings.add("API replicas recreated: nginx answers again", time.monotonic() - started, note)
