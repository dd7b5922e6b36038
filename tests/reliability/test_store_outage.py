"""A PostgreSQL outage mid-job: workers keep what they computed and record it when the
store is back, so the job ends exact with no chunk computed twice.

The workers reach PostgreSQL through a TCP proxy the test cuts for 20 s; the API and the
test reach it directly. Runs when CHUNKWISE_TEST_POSTGRES_URL names a server.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from chunkwise.store import jobs
from tests.live import live_system
from tests.reliability.conftest import RELIABILITY_ENV
from tests.reliability.faulty import chunk_events
from tests.store.conftest import POSTGRES_URL
from tests.tcp_proxy import TcpProxy
from tests.waiting import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not POSTGRES_URL, reason="CHUNKWISE_TEST_POSTGRES_URL not set"),
]

OUTAGE_S = 20.0
CHUNKS = 32
PI_1E8 = 5761455


def test_a_store_outage_mid_job_loses_nothing_and_computes_nothing_twice(
    tmp_path: Path, new_postgres_database: Callable[[], str], log_dir: Path, broker: str
) -> None:
    fresh_database = new_postgres_database()
    direct = make_url(fresh_database)
    with TcpProxy(direct.host or "127.0.0.1", direct.port or 5432) as proxy:
        proxied = direct.set(host="127.0.0.1", port=proxy.port)
        env = {**RELIABILITY_ENV, "CHUNKWISE_DATABASE_URL": fresh_database}
        worker_env = {"CHUNKWISE_DATABASE_URL": proxied.render_as_string(hide_password=False)}
        with live_system(
            tmp_path / "system", workers=2, extra_env=env, worker_env=worker_env, broker=broker
        ) as live:
            # Given a job under way
            params = {"n": 10**8, "chunk_s": 0.4, "log_dir": str(log_dir)}
            job_id = live.submit("slow_prime_count", params, CHUNKS)
            wait_for(
                lambda: live.job(job_id)["progress"]["completed"] >= 4,
                timeout_s=60,
                what="a few chunks recorded",
            )

            # When the workers lose the store for 20 s
            proxy.cut()
            cut_at = live.job(job_id)["progress"]["completed"]
            time.sleep(OUTAGE_S)  # the outage itself: its length is the point of the test
            assert live.job(job_id)["progress"]["completed"] == cut_at
            proxy.restore()

            # Then the job finishes exact, every chunk recorded and computed once
            job = live.wait_finished(job_id, timeout_s=120)
            assert job["state"] == "SUCCESS", job["error"]
            assert job["result"]["prime_count"] == PI_1E8
            assert job["progress"]["completed"] == CHUNKS
            with live.store.reader() as session:
                chunks = jobs.list_chunks(session, job_id=uuid.UUID(job_id))
            assert sum(chunk.partial for chunk in chunks) == PI_1E8
            starts = {index: len(chunk_events(log_dir, index, "start")) for index in range(CHUNKS)}
            assert set(starts.values()) == {1}, starts
