"""Several processes of one deployment on loopback ports: PostgreSQL, RabbitMQ when one
answers (else the embedded Redis), two API processes behind Nginx (deploy/nginx.conf),
two worker nodes. 100 jobs go in through Nginx, some are followed live over SSE, and one
API process and one worker are SIGKILLed mid-way: every job still ends with the exact
result, each chunk recorded once.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from chunkwise.client import Client, JobEvent
from chunkwise.config import Settings
from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.launcher import api_answers, chunkwise_argv, free_port
from chunkwise.store import Store
from chunkwise.store.models import Chunk, Job, JobState
from chunkwise.supervisor import ProcessGroup
from tests.cluster.nginx_config import adapted_nginx_conf
from tests.live import AMQP_URL, delete_queue
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
JOBS = 100
BEFORE_KILL = 60
"""Jobs submitted before the kill; the rest go in through Nginx once an API is gone."""
FOLLOWED = 4
BIG_N, BIG_PI = 10**10, 455_052_511
"""One job in ten is this large, sieved (counting would take milliseconds), so that a
worker is mid-chunk when it is killed."""
SMALL_N_MAX = 20_000_000
FINISH_TIMEOUT_S = 240.0
SUBMIT_TRIES = 10
CLAIM_TIMEOUT_S = 2
"""An Idempotency-Key claim whose API process died is taken over after this."""


def primes_up_to(limit: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Reference primes by a plain sieve of Eratosthenes, independent of the kernels."""
    sieve = np.ones(limit + 1, dtype=bool)
    sieve[:2] = False
    for p in range(2, int(limit**0.5) + 1):
        if sieve[p]:
            sieve[p * p :: p] = False
    return np.flatnonzero(sieve)


@dataclass
class Plan:
    """The jobs to submit, each with the result it must end with."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    expected: list[tuple[str, int]] = field(default_factory=list)


def job_plan() -> Plan:
    primes = primes_up_to(SMALL_N_MAX)
    plan = Plan()
    for number in range(JOBS):
        if number % 10 == 0:
            body = {
                "kind": "prime_count",
                "params": {"n": BIG_N, "method": "sieve"},
                "chunks": 16,
            }
            plan.expected.append(("prime_count", BIG_PI))
        elif number % 2:
            n = SMALL_N_MAX - number * 7_919
            body = {"kind": "prime_count", "params": {"n": n}, "chunks": 8}
            plan.expected.append(("prime_count", int(np.searchsorted(primes, n, side="right"))))
        else:
            n = 10**7 + number
            body = {"kind": "sum_range", "params": {"n": n}, "chunks": 4}
            plan.expected.append(("sum", n * (n + 1) // 2))
        plan.bodies.append(body)
    return plan


@dataclass
class Cluster:
    group: ProcessGroup
    url: str
    """Nginx, in front of both API processes."""
    database_url: str
    env: dict[str, str]
    api_urls: list[str]


@pytest.fixture
def cluster(new_postgres_database: Callable[[], str], tmp_path: Path) -> Iterator[Cluster]:
    if not NGINX:
        pytest.skip("no nginx (make test installs Debian's nginx where apt can)")
    database_url = new_postgres_database()
    queue = f"chunkwise-cluster-{uuid.uuid4().hex[:12]}"
    with ExitStack() as stack:
        broker_url = AMQP_URL or stack.enter_context(EmbeddedBroker(tmp_path / "broker")).url
        group = stack.enter_context(ProcessGroup())
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CHUNKWISE_")},
            "CHUNKWISE_DATA_DIR": str(tmp_path),
            "CHUNKWISE_DATABASE_URL": database_url,
            "CHUNKWISE_BROKER_URL": broker_url,
            "CHUNKWISE_CHUNK_QUEUE": queue,
            "CHUNKWISE_TRUSTED_PROXIES": "127.0.0.1",
            "CHUNKWISE_MAX_ACTIVE_JOBS_PER_USER": str(JOBS),
            "CHUNKWISE_IDEMPOTENCY_CLAIM_TIMEOUT_S": str(CLAIM_TIMEOUT_S),
        }
        api_ports = [free_port(), free_port()]
        for number, port in enumerate(api_ports, start=1):
            argv = chunkwise_argv("api", "--port", str(port), "--log-level", "warning")
            group.spawn(f"api-{number}", argv, env)
        for number in (1, 2):
            argv = chunkwise_argv(
                "worker",
                "--name",
                f"w{number}@cluster",
                "--concurrency",
                "1",
                "--loglevel",
                "WARNING",
            )
            group.spawn(f"worker-{number}", argv, env)
        port = free_port()
        conf = tmp_path / "nginx.conf"
        conf.write_text(adapted_nginx_conf(api_ports=api_ports, port=port, scratch=tmp_path))
        group.spawn("nginx", [NGINX, "-c", str(conf), "-p", str(tmp_path)], env)
        url = f"http://127.0.0.1:{port}"
        for api in api_ports:
            wait_for(partial(api_answers, f"http://127.0.0.1:{api}"), timeout_s=90, what="API")
        wait_for(
            lambda: httpx.get(f"{url}/health").json().get("workers") == 2,
            timeout_s=90,
            what="both workers, seen through Nginx",
        )
        try:
            api_urls = [f"http://127.0.0.1:{api}" for api in api_ports]
            yield Cluster(group, url, database_url, env, api_urls)
        finally:
            group.stop_all()
            if AMQP_URL:
                delete_queue(Settings(broker_url=AMQP_URL, chunk_queue=queue))


class Follower(threading.Thread):
    """Follows one job's live progress through Nginx until its end event. The client
    opens a broken stream again (its API process killed); every stream opens with an
    event restating the job, which tells how many streams it took."""

    def __init__(self, url: str, job_id: str) -> None:
        super().__init__(daemon=True)
        self.url, self.job_id = url, job_id
        self.events: list[JobEvent] = []

    def run(self) -> None:
        with Client(self.url, token="", timeout_s=30) as client:
            self.events.extend(client.job(self.job_id).events())

    @property
    def reconnects(self) -> int:
        openings = [event for event in self.events if not event.is_end and event.chunk is None]
        return max(0, len(openings) - 1)


@dataclass
class Submitter:
    """Submits as a careful client does: with an Idempotency-Key, trying again on a 502
    (the request met an API process as it died) and on a 409 (the key's first request is
    unanswered: after Retry-After, once the claim timed out, the retry takes it over)."""

    http: httpx.Client
    retried: int = 0

    def submit(self, body: dict[str, Any]) -> str:
        key = uuid.uuid4().hex
        for _ in range(SUBMIT_TRIES):
            response = self.http.post(
                "/api/jobs",
                json=body,
                params={"cache": "false"},
                headers={"Idempotency-Key": key},
            )
            if response.status_code not in (409, 502):
                break
            self.retried += 1
            time.sleep(float(response.headers.get("retry-after", "0.2")))
        assert response.status_code in (200, 202), response.text
        job_id: str = response.json()["job_id"]
        return job_id


def finished(http: httpx.Client, job_ids: list[str]) -> list[dict[str, Any]]:
    jobs = [http.get(f"/api/jobs/{job_id}").json() for job_id in job_ids]
    return [job for job in jobs if job["state"] in ("SUCCESS", "FAILURE", "CANCELLED")]


def succeeded(store: Store) -> int:
    with store.reader() as session:
        done = session.scalar(select(func.count()).where(Job.state == JobState.SUCCESS))
    return int(done or 0)


def worker_holding(store: Store, name: str) -> list[str]:
    from chunkwise.store.models import Worker

    with store.reader() as session:
        holding = session.scalar(select(Worker.holding).where(Worker.name == name))
    return list(holding or [])


def scrape(url: str, name: str) -> float:
    """The sum of a metric's samples (all labels) on one API process."""
    text = httpx.get(f"{url}/metrics").text
    samples = [line.split()[-1] for line in text.splitlines() if line.startswith(name + "{")]
    return sum(float(sample) for sample in samples)


def assert_each_api_reports_its_own_and_the_same_store(cluster: Cluster) -> None:
    """Each API process counts the jobs it accepted (Nginx spread the 60 over both), and
    both report the same store-derived job count."""
    accepted = [scrape(url, "chunkwise_jobs_submitted_total") for url in cluster.api_urls]
    assert sum(accepted) == BEFORE_KILL and all(count > 0 for count in accepted)
    kept = {scrape(url, "chunkwise_jobs") for url in cluster.api_urls}
    assert kept == {float(BEFORE_KILL)}


def test_a_cluster_runs_every_job_exactly_through_the_loss_of_an_api_and_a_worker(
    cluster: Cluster, report: list[str]
) -> None:
    plan = job_plan()
    store = Store(Settings(database_url=cluster.database_url).resolved_database_url)
    http = httpx.Client(base_url=cluster.url, timeout=30)
    try:
        # Given 60 jobs submitted through Nginx, a few of them followed live
        started = time.monotonic()
        submitter = Submitter(http)
        job_ids = [submitter.submit(body) for body in plan.bodies[:BEFORE_KILL]]
        followers = [Follower(cluster.url, job_ids[i]) for i in range(0, 10 * FOLLOWED, 10)]
        for follower in followers:
            follower.start()

        # When, mid-way, one API process and one worker (holding a chunk) are SIGKILLed
        wait_for(
            lambda: worker_holding(store, "w1@cluster") and succeeded(store) >= 5,
            timeout_s=120,
            what="some jobs done and worker 1 computing a chunk",
        )
        unfinished_at_kill = BEFORE_KILL - len(finished(http, job_ids))
        assert unfinished_at_kill > 0, "the kill must come while jobs are running"
        assert_each_api_reports_its_own_and_the_same_store(cluster)
        cluster.group.send_signal("api-1", signal.SIGKILL)
        cluster.group.send_signal("worker-1", signal.SIGKILL)
        killed_at = time.time()
        wait_for(
            lambda: cluster.group.returncode("api-1") is not None,
            timeout_s=10,
            what="api-1 to be gone",
        )

        # And the other 40 jobs go in through Nginx, which passes over the dead API
        job_ids += [submitter.submit(body) for body in plan.bodies[BEFORE_KILL:]]

        # Then every job ends, with the exact result
        def all_ended() -> list[dict[str, Any]] | None:
            done = finished(http, job_ids)
            return done if len(done) == JOBS else None

        jobs = wait_for(
            all_ended,
            timeout_s=FINISH_TIMEOUT_S,
            what="all 100 jobs to end",
        )
        elapsed = time.monotonic() - started
        by_id = {job["job_id"]: job for job in jobs}
        for job_id, (key, value) in zip(job_ids, plan.expected, strict=True):
            job = by_id[job_id]
            assert job["state"] == "SUCCESS", job
            result_key = "prime_count" if key == "prime_count" else "sum"
            assert job["result"][result_key] == value, job
            assert job["progress"]["completed"] == job["progress"]["total"]

        # And each chunk was recorded once; the dead worker's chunks ran again elsewhere
        with store.reader() as session:
            recorded = session.scalar(select(func.count()).where(Chunk.finished_at.is_not(None)))
            redelivered = session.execute(
                select(Chunk.started_at, Chunk.worker).where(Chunk.attempts > 1)
            ).all()
            kept = session.scalar(select(func.count()).select_from(Job))
        # A retry makes a second job only if the first try's process died after making
        # its job and before answering: a window of a few statements.
        assert JOBS <= (kept or 0) <= JOBS + submitter.retried
        assert recorded == sum(body["chunks"] for body in plan.bodies)
        assert all(worker == "w2@cluster" for _, worker in redelivered)

        # And the live streams saw their jobs end, across the API's death
        for follower in followers:
            follower.join(timeout=60)
            assert not follower.is_alive()
            assert follower.events[-1].state == "SUCCESS"

        restarts = [start.timestamp() - killed_at for start, _ in redelivered if start]
        recovery = f"{max(restarts):.2f} s" if restarts else "no chunk was in flight"
        broker = "RabbitMQ" if AMQP_URL else "embedded Redis"
        report.extend(
            [
                f"cluster: PostgreSQL, {broker}, Nginx, 2 APIs, 2 workers of 1 process",
                f"{JOBS} jobs ({recorded} chunks) in {elapsed:.1f} s: {JOBS / elapsed:.1f} jobs/s",
                f"killed api-1 and worker-1 with {unfinished_at_kill} of {BEFORE_KILL} jobs "
                f"unfinished; {len(redelivered)} chunk(s) redelivered, running again "
                f"{recovery} after the kill",
                f"live streams followed: {len(followers)}, reconnects: "
                f"{sum(f.reconnects for f in followers)}; submissions tried again: "
                f"{submitter.retried}",
            ]
        )
    finally:
        http.close()
        store.dispose()
