"""A broker that stops answering without closing its connections (SIGSTOP: the kernel
still accepts the bytes, nothing replies) must not hang a submit. Over real HTTP against
`chunkwise api` in its own process: within about PUBLISH_TIMEOUT_S the caller gets the
job's id, or a 503 naming the broker and nothing is kept; once the broker answers again,
submits work again and the chunks published into the pause make no job.

The embedded Valkey is paused by its pid (from its PID file); RabbitMQ, shared by other
tests, is paused by a proxy in front of it that stops passing bytes (`TcpProxy.pause`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chunkwise.config import Settings
from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.launcher import free_port
from chunkwise.store import Store, jobs
from tests.api.conftest import api_process
from tests.live import AMQP_URL, delete_queue
from tests.tcp_proxy import TcpProxy
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

PUBLISH_TIMEOUT_S = 2.0
CLIENT_TIMEOUT_S = 10.0
"""The caller of the issue gave up after 10 s; a submit now answers well within."""
SLACK_S = 3.0
"""What a submit may take beyond PUBLISH_TIMEOUT_S: the store, the HTTP round trip, a
busy machine."""

SUBMITS = {
    "/api/jobs": {"kind": "sum_range", "params": {"n": 1000}, "chunks": 4},
    "/api/count-primes": {"n": 20000, "chunks": 4},  # seed 000
}


@pytest.fixture(autouse=True)
def short_publish_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API process inherits it (`api_process` passes this environment on)."""
    monkeypatch.setenv("CHUNKWISE_PUBLISH_TIMEOUT_S", str(PUBLISH_TIMEOUT_S))


@pytest.fixture
def valkey(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(tmp_path / "broker", appendonly=False) as broker:
        yield broker


@contextlib.contextmanager
def sigstopped(broker: EmbeddedBroker) -> Iterator[None]:
    """The broker's server paused, found by the pid its PID file records."""
    pid = int(json.loads(broker.pid_file.read_text())["pid"])
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def settings_for(tmp_path: Path, broker_url: str, **extra: Any) -> Settings:
    return Settings(
        data_dir=tmp_path,
        broker_url=broker_url,
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        api_port=free_port(),
        **extra,
    )


def timed_submit(http: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = http.post(path, json=SUBMITS[path], timeout=CLIENT_TIMEOUT_S)
    return response, time.monotonic() - started


def job_count(settings: Settings) -> int:
    store = Store(settings.resolved_database_url)
    try:
        with store.reader() as session:
            return jobs.count_jobs(session)
    finally:
        store.dispose()


def assert_refused_in_time(response: httpx.Response, elapsed_s: float) -> None:
    assert elapsed_s < PUBLISH_TIMEOUT_S + SLACK_S, f"answered after {elapsed_s:.1f} s"
    assert response.status_code == 503, response.text
    assert "broker" in response.text
    assert "Timeout" not in response.text and "127.0.0.1" not in response.text  # no driver text


def accepted_again(http: httpx.Client) -> bool:
    return http.post("/api/jobs", json=SUBMITS["/api/jobs"]).status_code == 202


@pytest.mark.parametrize("path", list(SUBMITS))
def test_a_submit_to_a_paused_broker_answers_503_in_time_and_keeps_nothing(
    tmp_path: Path, valkey: EmbeddedBroker, path: str
) -> None:
    settings = settings_for(tmp_path, valkey.url)
    with api_process(settings) as http:
        assert http.post(path, json=SUBMITS[path]).status_code in (201, 202)  # connected

        with sigstopped(valkey):
            response, elapsed_s = timed_submit(http, path)

            assert_refused_in_time(response, elapsed_s)
            assert job_count(settings) == 1  # the one made before the pause
            # A second submit is not stuck behind the first's connection either.
            again, elapsed_s = timed_submit(http, "/api/jobs")
            assert_refused_in_time(again, elapsed_s)

        wait_for(lambda: accepted_again(http), timeout_s=30, what="submits to work again")
        # What reached the broker in the pause names deleted jobs; it made none.
        assert job_count(settings) == 2


def test_an_api_that_never_reached_the_paused_broker_answers_in_time(
    tmp_path: Path, valkey: EmbeddedBroker
) -> None:
    settings = settings_for(tmp_path, valkey.url)
    with sigstopped(valkey), api_process(settings) as http:
        response, elapsed_s = timed_submit(http, "/api/count-primes")

        assert_refused_in_time(response, elapsed_s)
        assert job_count(settings) == 0


@pytest.mark.skipif(not AMQP_URL, reason="CHUNKWISE_TEST_AMQP_URL not set")
def test_a_paused_rabbitmq_gets_an_answer_in_time_and_nothing_half_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    amqp = httpx.URL(AMQP_URL)
    queue = f"chunkwise-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("CHUNKWISE_CHUNK_QUEUE", queue)  # a queue of its own on the shared server
    with TcpProxy(amqp.host, amqp.port or 5672) as proxy:
        settings = settings_for(tmp_path, str(amqp.copy_with(port=proxy.port)), chunk_queue=queue)
        try:
            with api_process(settings) as http:
                proxy.pause()
                try:
                    response, elapsed_s = timed_submit(http, "/api/count-primes")
                finally:
                    proxy.resume()
                assert_refused_in_time(response, elapsed_s)
                assert job_count(settings) == 0
                wait_for(lambda: accepted_again(http), timeout_s=30, what="submits to work")
        finally:
            delete_queue(Settings(broker_url=AMQP_URL, chunk_queue=queue))
