"""A whole chunkwise system for benchmarks: `chunkwise up` in a scratch directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

STARTUP_TIMEOUT_S = 120.0
JOB_TIMEOUT_S = 600.0
POLL_S = 0.005


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_system(*, workers: int, source: str | None = None) -> Iterator[str]:
    """Run `chunkwise up --workers N` on a free port; yields its base URL, stops it after.

    `source`: a folder holding another build's `chunkwise` package, run instead of this
    one (a reference measured in the same run).
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="chunkwise-bench-") as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHUNKWISE_")}
        env |= {"CHUNKWISE_DATA_DIR": data_dir, "CHUNKWISE_API_PORT": str(port)}
        if source is not None:
            env["PYTHONPATH"] = source
        argv = [sys.executable, "-m", "chunkwise", "up", "--workers", str(workers)]
        up = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_for_workers(base_url, workers)
            yield base_url
        finally:
            up.send_signal(signal.SIGTERM)
            up.wait(timeout=60)


def wait_for_workers(base_url: str, workers: int) -> None:
    """Wait until the worker node reports `workers` pool processes (`up --workers N`)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            health = httpx.get(f"{base_url}/health", timeout=2).json()
            # Builds before the one-node `up` report one worker per process, no "processes".
            if health.get("processes", health.get("workers")) == workers:
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the system at {base_url} did not report {workers} worker processes")


def timed_job(base_url: str, body: dict[str, Any], *, cache: bool = True) -> float:
    """Seconds from POST to SUCCESS, polling the job's status over HTTP."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        start = time.perf_counter()
        response = http.post("/api/jobs", json=body, params={"cache": str(cache).lower()})
        response.raise_for_status()
        wait_success(http, response.json()["job_id"])
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
