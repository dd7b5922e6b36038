"""How soon a job's completion webhook arrives, and what carrying one costs the job.

Run: python bench/webhooks.py [--jobs 40] [--burst 200]

It starts `chunkwise up --workers 2` with a webhook key and loopback receivers allowed,
and a receiver on loopback that checks every signature. Then, one job at a time, it
submits small sum_range jobs without a callback_url (the reference) and with one, timing
POST to SUCCESS (status polled every 5 ms) and POST to the webhook's arrival. Last, a
burst of jobs with callbacks is submitted at once: how long until every job ended, and
until every webhook arrived, each once.

A webhook waits for the next round of the workers' sweep (`CHUNKWISE_WEBHOOK_SWEEP_S`,
1 s by default) before it is sent: from the job's end to its arrival takes up to one
round, half of it on average for jobs that end at random times. Jobs run one after
another here fall into step with the sweep (each is submitted just after the last
webhook came) and wait nearly a whole round.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from system import running_system, wait_success

SECRET = "bench-webhook-secret"
SETTINGS = {"CHUNKWISE_WEBHOOK_SECRET": SECRET, "CHUNKWISE_WEBHOOK_ALLOW_PRIVATE": "true"}
N = 100_000
CHUNKS = 4
JOB = {"kind": "sum_range", "params": {"n": N}, "chunks": CHUNKS}
ARRIVAL_TIMEOUT_S = 60.0

Row = tuple[str, str]


@dataclass
class Arrivals:
    """The webhooks a receiver got: arrival time by job id, and what was wrong."""

    at: dict[str, float] = field(default_factory=dict)
    deliveries: list[str] = field(default_factory=list)
    bad_signatures: int = 0
    ready: threading.Condition = field(default_factory=threading.Condition)

    def wait(self, job_ids: list[str]) -> dict[str, float]:
        """Arrival times of `job_ids`, once all arrived."""
        deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
        with self.ready:
            while not all(job_id in self.at for job_id in job_ids):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"webhooks missing after {ARRIVAL_TIMEOUT_S} s")
                self.ready.wait(left)
            return {job_id: self.at[job_id] for job_id in job_ids}


@contextmanager
def receiver() -> Iterator[tuple[str, Arrivals]]:
    """A loopback receiver answering 204 to each POST; yields its URL and its arrivals."""
    arrivals = Arrivals()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            now = time.time()
            expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            signed = self.headers.get("X-Chunkwise-Signature", "")
            with arrivals.ready:
                if not hmac.compare_digest(signed, f"sha256={expected}"):
                    arrivals.bad_signatures += 1
                arrivals.deliveries.append(self.headers.get("X-Chunkwise-Delivery", ""))
                arrivals.at.setdefault(json.loads(body)["job_id"], now)
                arrivals.ready.notify_all()
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", arrivals
    finally:
        server.shutdown()
        server.server_close()


def submit(http: httpx.Client, callback_url: str | None) -> tuple[str, float]:
    body = dict(JOB) | ({"callback_url": callback_url} if callback_url else {})
    start = time.time()
    response = http.post("/api/jobs", json=body)
    response.raise_for_status()
    return response.json()["job_id"], start


def finished_at(http: httpx.Client, job_id: str) -> float:
    return datetime.fromisoformat(http.get(f"/api/jobs/{job_id}").json()["finished_at"]).timestamp()


def quantiles(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:.1f} / {p99 * 1000:.1f} ms"


def one_at_a_time(http: httpx.Client, url: str, arrivals: Arrivals, jobs: int) -> list[Row]:
    """Jobs one after another, each way: POST to SUCCESS, and to the webhook's arrival."""
    plain, to_success, to_arrival, end_to_arrival = [], [], [], []
    for _ in range(jobs):
        job_id, start = submit(http, None)
        wait_success(http, job_id)
        plain.append(time.time() - start)
        job_id, start = submit(http, url)
        wait_success(http, job_id)
        to_success.append(time.time() - start)
        arrived = arrivals.wait([job_id])[job_id]
        to_arrival.append(arrived - start)
        end_to_arrival.append(arrived - finished_at(http, job_id))
    return [
        ("POST to SUCCESS, no callback_url (reference)", quantiles(plain)),
        ("POST to SUCCESS, with callback_url", quantiles(to_success)),
        ("POST to webhook received", quantiles(to_arrival)),
        ("job's finished_at to webhook received", quantiles(end_to_arrival)),
    ]


def burst(http: httpx.Client, url: str, arrivals: Arrivals, jobs: int) -> list[Row]:
    """Jobs with callbacks submitted at once: until all ended, and all webhooks arrived."""
    start = time.time()
    job_ids = [submit(http, url)[0] for _ in range(jobs)]
    for job_id in job_ids:
        wait_success(http, job_id, poll_s=0.05)
    all_ended = time.time() - start
    last_arrival = max(arrivals.wait(job_ids).values()) - start
    return [
        (f"burst of {jobs}: every job SUCCESS", f"{all_ended:.2f} s"),
        (f"burst of {jobs}: every webhook received", f"{last_arrival:.2f} s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40, help="jobs timed one at a time, each way")
    parser.add_argument("--burst", type=int, default=200, help="jobs with callbacks sent at once")
    args = parser.parse_args()

    with (
        receiver() as (url, arrivals),
        running_system(workers=2, settings=SETTINGS) as up,
        httpx.Client(base_url=up.base_url, timeout=30) as http,
    ):
        rows = one_at_a_time(http, url, arrivals, args.jobs)
        rows += burst(http, url, arrivals, args.burst)
    once = len(arrivals.deliveries) == len(set(arrivals.deliveries))
    rows += [
        (
            "webhooks received / jobs with a callback_url",
            f"{len(arrivals.at)} / {args.jobs + args.burst}",
        ),
        (
            "each delivery id once; bad signatures",
            f"{'yes' if once else 'NO'}; {arrivals.bad_signatures}",
        ),
    ]
    print(f"# webhooks, `up --workers 2`, sum_range n={N} in {CHUNKS} chunks, {time.ctime()}")
    print("| measure | p50 / p99, or value |")
    print("| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
