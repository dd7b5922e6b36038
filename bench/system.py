"""A whole chunkwise system for benchmarks: `chunkwise up` in a scratch directory, of this
build or of a reference build measured in the same run.

`up` runs as a child process, not as a LocalSystem in this one: a reference build's
`chunkwise` package must be the one imported, and only a fresh interpreter with that
build on PYTHONPATH imports it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from chunkwise.launcher import chunkwise_argv, free_port, wait_until_healthy

STARTUP_TIMEOUT_S = 120.0
JOB_TIMEOUT_S = 600.0
POLL_S = 0.005


@dataclass(frozen=True)
class RunningUp:
    """A running `chunkwise up`: its process id and the API's base URL."""

    pid: int
    base_url: str


@contextmanager
def running_system(
    *, workers: int, source: str | None = None, settings: Mapping[str, str] | None = None
) -> Iterator[RunningUp]:
    """Run `chunkwise up --workers N` on a free port until every worker process is alive;
    stop it after.

    `source`: a folder holding another build's `chunkwise` package, run instead of this
    one (a reference measured in the same run). `settings`: CHUNKWISE_* variables for it
    (those of this environment are left out, so a run does not depend on the shell).
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="chunkwise-bench-") as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHUNKWISE_")}
        env |= {**(settings or {}), "CHUNKWISE_DATA_DIR": data_dir, "CHUNKWISE_API_PORT": str(port)}
        if source is not None:
            env["PYTHONPATH"] = source
        argv = chunkwise_argv("up", "--workers", str(workers))
        up = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(
                base_url,
                lambda health: worker_processes(health) == workers,
                what=f"{workers} worker processes",
                timeout_s=STARTUP_TIMEOUT_S,
                exited=lambda: None if up.poll() is None else "`chunkwise up`",
            )
            yield RunningUp(up.pid, base_url)
        finally:
            up.send_signal(signal.SIGTERM)
            up.wait(timeout=60)


def worker_processes(health: Mapping[str, Any]) -> object:
    """The worker processes a /health report counts. Builds before the one-node `up`
    ran one worker per process and reported no "processes": their "workers" count them."""
    return health.get("processes", health.get("workers"))


def timed_job(
    base_url: str, body: dict[str, Any], *, cache: bool = True, poll_s: float = POLL_S
) -> float:
    """Seconds from POST to SUCCESS, polling the job's status over HTTP every `poll_s`."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        start = time.perf_counter()
        response = http.post("/api/jobs", json=body, params={"cache": str(cache).lower()})
        response.raise_for_status()
        wait_success(http, response.json()["job_id"], poll_s)
        return time.perf_counter() - start


def wait_success(http: httpx.Client, job_id: str, poll_s: float = POLL_S) -> None:
    """Return when the job is SUCCESS, polling every `poll_s`; raise if it ended otherwise."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        job = http.get(f"/api/jobs/{job_id}").json()
        if job["state"] == "SUCCESS":
            return
        if job["state"] in ("FAILURE", "CANCELLED"):
            raise RuntimeError(f"job {job_id} ended {job['state']}: {job['error']}")
        time.sleep(poll_s)
    raise RuntimeError(f"job {job_id} did not finish in {JOB_TIMEOUT_S} s")
