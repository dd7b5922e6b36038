"""A bounded load test: many HTTP clients submit jobs to a live system and poll them.

Run: python bench/load.py [--clients 50] [--jobs 500] [--workers 2]

It starts its own system (`chunkwise up` in a scratch directory, loopback only), lets
`--clients` threads submit `--jobs` jobs between them (sum_range and small prime_count,
each n different so no job is answered from an earlier one), polls every job until it
ends, checks every result exactly, prints one table and stops the system. It exits 1 if
any job failed, timed out or came back wrong.

`run_load(base_url, clients, jobs)` is the reusable part: the integration tests run a
small load through it against their own live system.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

FIRST_N = 10**6
CHUNKS = 8
POLL_INTERVAL_S = 0.02
JOB_TIMEOUT_S = 120.0
HTTP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LoadJob:
    """One job to submit and the exact result it must come back with."""

    body: dict[str, Any]
    result_key: str
    expected: int


@dataclass
class LoadReport:
    """What a load run measured. Latencies are in seconds."""

    clients: int
    jobs: int
    submit_s: list[float] = field(default_factory=list)
    status_s: list[float] = field(default_factory=list)
    finished: int = 0
    total_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def jobs_per_s(self) -> float:
        return self.finished / self.total_s if self.total_s else 0.0

    def table(self) -> str:
        rows = [
            ("clients / jobs", f"{self.clients} / {self.jobs}"),
            ("jobs finished exactly", f"{self.finished}"),
            ("submit latency p50 / p99", _p50_p99(self.submit_s)),
            ("status read latency p50 / p99", _p50_p99(self.status_s)),
            ("status reads", f"{len(self.status_s)}"),
            ("jobs/s", f"{self.jobs_per_s:.1f}"),
            ("total time", f"{self.total_s:.1f} s"),
            ("errors", f"{len(self.errors)}"),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        lines += [f"  error: {error}" for error in self.errors[:10]]
        return "\n".join(lines)


def _p50_p99(samples: list[float]) -> str:
    if len(samples) < 2:
        return "-"
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return f"{cuts[49] * 1000:.1f} ms / {cuts[98] * 1000:.1f} ms"


def prime_flags(limit: int) -> bytearray:
    """flags[k] == 1 exactly when k is prime, for k <= limit (a sieve of Eratosthenes)."""
    flags = bytearray([1]) * (limit + 1)
    flags[0:2] = b"\x00\x00"
    for p in range(2, int(limit**0.5) + 1):
        if flags[p]:
            flags[p * p :: p] = bytes(len(range(p * p, limit + 1, p)))
    return flags


def load_jobs(count: int) -> list[LoadJob]:
    """Alternating sum_range and prime_count jobs, each with its own n near 10^6."""
    flags = prime_flags(FIRST_N + count)
    jobs = []
    for i in range(count):
        n = FIRST_N + i // 2
        if i % 2 == 0:
            body = {"kind": "sum_range", "params": {"n": n}, "chunks": CHUNKS}
            jobs.append(LoadJob(body, "sum", n * (n + 1) // 2))
        else:
            body = {"kind": "prime_count", "params": {"n": n}, "chunks": CHUNKS}
            jobs.append(LoadJob(body, "prime_count", flags.count(1, 0, n + 1)))
    return jobs


class _Client(threading.Thread):
    """Submits its share of the jobs one at a time and polls each until it ends."""

    def __init__(self, base_url: str, jobs: Iterator[LoadJob]) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.jobs = jobs
        self.submit_s: list[float] = []
        self.status_s: list[float] = []
        self.finished = 0
        self.errors: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=HTTP_TIMEOUT_S) as http:
            for job in self.jobs:
                try:
                    self.finished += self.run_job(http, job)
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    self.errors.append(f"{job.body}: {type(exc).__name__}: {exc}")

    def run_job(self, http: httpx.Client, job: LoadJob) -> int:
        start = time.perf_counter()
        response = http.post("/api/jobs", json=job.body)
        self.submit_s.append(time.perf_counter() - start)
        if response.status_code != 202:
            self.errors.append(f"{job.body}: submit answered {response.status_code}")
            return 0
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while time.monotonic() < deadline:
            start = time.perf_counter()
            response = http.get(f"/api/jobs/{job_id}")
            self.status_s.append(time.perf_counter() - start)
            view = response.json()
            if view["state"] in ("FAILURE", "CANCELLED"):
                self.errors.append(f"job {job_id} ended {view['state']}: {view['error']}")
                return 0
            if view["state"] == "SUCCESS":
                return self.check(job_id, job, view["result"])
            time.sleep(POLL_INTERVAL_S)
        self.errors.append(f"job {job_id} did not finish in {JOB_TIMEOUT_S} s")
        return 0

    def check(self, job_id: str, job: LoadJob, result: dict[str, Any]) -> int:
        if result.get(job.result_key) == job.expected:
            return 1
        self.errors.append(f"job {job_id} {job.body}: {result} != {job.expected}")
        return 0


def run_load(base_url: str, clients: int, jobs: int) -> LoadReport:
    """Submit `jobs` jobs from `clients` threads, poll each to its end, check each result."""
    report = LoadReport(clients=clients, jobs=jobs)
    work = load_jobs(jobs)
    shares = [iter(work[i::clients]) for i in range(clients)]
    threads = [_Client(base_url, share) for share in shares]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report.total_s = time.perf_counter() - start
    for thread in threads:
        report.submit_s += thread.submit_s
        report.status_s += thread.status_s
        report.finished += thread.finished
        report.errors += thread.errors
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="client threads")
    parser.add_argument("--jobs", type=int, default=500, help="jobs in total")
    parser.add_argument("--workers", type=int, default=2, help="worker processes to start")
    options = parser.parse_args()
    from system import running_system  # bench/system.py, beside this script

    with running_system(workers=options.workers) as system:
        report = run_load(system.base_url, options.clients, options.jobs)
    print(f"chunkwise load: {options.workers} worker(s), {CHUNKS} chunks a job, loopback")
    print(report.table())
    return 0 if not report.errors and report.finished == report.jobs else 1


if __name__ == "__main__":
    sys.exit(main())
