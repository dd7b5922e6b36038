"""Jobs on the deployed stack, and what each must come back with: answers computed here,
by programs that share nothing with chunkwise (primecount, primesieve, a formula)."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import httpx

from chunkwise.client import ApiError, ApiUnreachable, Client, Job, ServiceUnavailable
from chunkwise.schemas import ChunkList, JobView
from tests.waiting import wait_for
from tests.workloads.oracles import primes_in

ENDED = ("SUCCESS", "FAILURE", "CANCELLED")
JOB_TIMEOUT_S = 240.0
LONG_JOB_N = 10**11
"""π(10^11) by sieving: about 20 s of one core, in LONG_JOB_CHUNKS chunks of a second or
two each, so that a fault can come while chunks are running and some are done."""
LONG_JOB_CHUNKS = 24


def primecount(n: int) -> int:
    """π(n) by Kim Walisch's primecount (Debian's `primecount`)."""
    return int(subprocess.run(["primecount", str(n)], capture_output=True, text=True).stdout)


def primes_between(start: int, end: int) -> list[int]:
    """The primes in [start, end]: primesieve's, else the slow reference of the workload
    tests (Miller-Rabin behind a small-factor filter)."""
    if shutil.which("primesieve"):
        printed = subprocess.run(
            ["primesieve", str(start), str(end), "--print"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return [int(line) for line in printed.split()]
    return primes_in(start, end)


def sum_of_range(a: int, n: int) -> int:
    """a + (a + 1) + ... + n, by Gauss's formula."""
    return (a + n) * (n - a + 1) // 2


PASSING_STATUSES = (502, 503, 504)
"""What a careful client tries again after: nginx with no replica to answer, or an API
whose store or broker does not answer for the moment."""


def passing(exc: Exception) -> bool:
    """Whether an error is one an outage gives for a while (and the probe tries again)."""
    if isinstance(exc, ServiceUnavailable | ApiUnreachable | httpx.TransportError):
        return True
    if isinstance(exc, ApiError):
        return exc.status in PASSING_STATUSES
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in PASSING_STATUSES
    return False


def wait_ended(
    job: Job, timeout_s: float = JOB_TIMEOUT_S, passed: list[str] | None = None
) -> JobView:
    """Poll the job (not its event stream) until it ends; its final view. Errors an
    outage gives for a while are tried again, and listed in `passed` when given."""

    def ended() -> JobView | None:
        try:
            view = job.status()
        except (ApiError, httpx.HTTPError) as exc:
            if not passing(exc):
                raise
            if passed is not None:
                passed.append(str(exc))
            return None
        return view if view.state in ENDED else None

    return wait_for(ended, timeout_s=timeout_s, interval_s=0.5, what=f"job {job.id} to end")


def result_of(view: JobView) -> dict[str, Any]:
    assert view.state == "SUCCESS", f"job {view.job_id} ended {view.state}: {view.error}"
    assert view.result is not None
    return view.result


def chunks(http: httpx.Client, job: Job) -> ChunkList | None:
    """GET /api/jobs/{id}/chunks: each chunk's state and the worker holding it; None while
    an outage keeps the answer away."""
    try:
        answer = http.get(f"/api/jobs/{job.id}/chunks")
        answer.raise_for_status()
    except httpx.HTTPError as exc:
        if passing(exc):
            return None
        raise
    return ChunkList.model_validate(answer.json())


@dataclass(frozen=True)
class LongJob:
    """π(n) by sieving, submitted without the chunk cache, and the answer it must give."""

    job: Job
    n: int
    expected: int
    submitted_at: float

    @classmethod
    def submit(cls, client: Client, n: int = LONG_JOB_N) -> LongJob:
        job = client.submit(
            "prime_count", {"n": n, "method": "sieve"}, chunks=LONG_JOB_CHUNKS, cache=False
        )
        return cls(job, n, primecount(n), time.monotonic())

    def mid_way(self, http: httpx.Client) -> ChunkList:
        """Wait until some chunks are done and others are running; the chunks then."""

        def under_way() -> ChunkList | None:
            found = chunks(http, self.job)
            if found is None:
                return None
            states = [item.state for item in found.items]
            return found if "done" in states and "running" in states else None

        return wait_for(under_way, timeout_s=120, interval_s=0.2, what="the job mid-way")

    def assert_exact(
        self, timeout_s: float = JOB_TIMEOUT_S, passed: list[str] | None = None
    ) -> JobView:
        view = wait_ended(self.job, timeout_s, passed)
        result = result_of(view)
        assert result["prime_count"] == self.expected, (self.n, result)
        assert view.progress.completed == view.progress.total == LONG_JOB_CHUNKS
        return view
