"""What one broker and one database handle, measured apart from everything else.

    python bench/capacity.py [--chunks N] [--messages N]

- store: chunk accounting, the two statements every chunk costs (start_chunk, then
  record_chunk), by 1, 2 and 4 processes at once on disjoint chunks of one job; SQLite
  (a file in a scratch folder) and PostgreSQL when CHUNKWISE_BENCH_POSTGRES_URL (or
  CHUNKWISE_TEST_POSTGRES_URL) names a server. Beside it, the same processes' pure-Python
  loop, so the table shows what the store itself costs.
- broker: chunk-sized messages published in one batch, then consumed and acknowledged one
  by one (prefetch 1, as workers do); the embedded Valkey, and RabbitMQ when
  CHUNKWISE_BENCH_AMQP_URL (or CHUNKWISE_TEST_AMQP_URL) names one.

docs/scaling.md reads these figures; rerun this on the machine you size for.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path
from threading import Barrier

from kombu.connection import Connection

from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.store import Store, recording
from chunkwise.store import jobs as job_rows

PROCESSES = (1, 2, 4)


def _account(url: str, job_id: str, indices: list[int], ready: Barrier) -> None:
    store = Store(url)
    job = uuid.UUID(job_id)
    with store.write_connection():
        pass  # connect before the clock starts
    ready.wait()
    for index in indices:
        with store.write_connection() as connection:
            recording.start_chunk(connection, job_id=job, index=index, max_attempts=5, worker="w")
        with store.write_connection() as connection:
            recording.record_chunk(connection, job_id=job, index=index, partial=index, worker="w")
    store.dispose()


def store_rate(url: str, chunks: int, processes: int) -> float:
    """Chunks accounted per second by `processes` processes sharing one job's chunks."""
    store = Store(url)
    store.upgrade_schema()
    with store.writer() as session:
        job = job_rows.create_job(
            session, kind="sum_range", params={"n": chunks}, specs=[{}] * chunks
        )
    store.dispose()
    ready = mp.Barrier(processes + 1)
    shares = [list(range(p, chunks, processes)) for p in range(processes)]
    workers = [
        mp.Process(target=_account, args=(url, str(job.id), share, ready)) for share in shares
    ]
    for worker in workers:
        worker.start()
    ready.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    return chunks / (time.perf_counter() - started)


def broker_rate(url: str, messages: int) -> tuple[float, float]:
    """(published/s, consumed and acknowledged/s) of chunk-sized messages."""
    queue_name = f"capacity-{uuid.uuid4().hex[:8]}"
    body = {"job_id": str(uuid.uuid4()), "index": 0}
    with Connection(url) as connection:  # type: ignore[no-untyped-call]
        queue = connection.SimpleQueue(queue_name)
        started = time.perf_counter()
        for index in range(messages):
            queue.put({**body, "index": index})
        published = messages / (time.perf_counter() - started)
        queue.consumer.qos(prefetch_count=1)
        started = time.perf_counter()
        for _ in range(messages):
            queue.get(timeout=10).ack()
        consumed = messages / (time.perf_counter() - started)
        queue.close()
        queue.queue(connection.default_channel).delete()
    return published, consumed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=4000)
    parser.add_argument("--messages", type=int, default=10000)
    args = parser.parse_args()
    cpus = os.cpu_count()
    print(
        f"Run: {cpus} x {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}\n"
    )
    postgres = os.environ.get("CHUNKWISE_BENCH_POSTGRES_URL") or os.environ.get(
        "CHUNKWISE_TEST_POSTGRES_URL", ""
    )
    amqp = os.environ.get("CHUNKWISE_BENCH_AMQP_URL") or os.environ.get(
        "CHUNKWISE_TEST_AMQP_URL", ""
    )
    with tempfile.TemporaryDirectory() as scratch:
        sqlite = [f"sqlite:///{Path(scratch) / f'capacity-{p}.db'}" for p in PROCESSES]
        stores = {"SQLite": sqlite}
        if postgres:
            url = postgres.replace("postgresql://", "postgresql+psycopg://", 1)
            stores["PostgreSQL"] = [url] * len(PROCESSES)
        print("| store | " + " | ".join(f"{p} process(es)" for p in PROCESSES) + " |")
        print("|---|" + "---|" * len(PROCESSES))
        for name, urls in stores.items():
            rates = [store_rate(u, args.chunks, p) for u, p in zip(urls, PROCESSES, strict=True)]
            cells = " | ".join(f"{rate:,.0f}" for rate in rates)
            print(f"| {name}: chunks accounted/s | {cells} |")
        print()
        with EmbeddedBroker(Path(scratch) / "broker", appendonly=True) as broker:
            brokers = {"Valkey (embedded, AOF on)": broker.url}
            if amqp:
                brokers["RabbitMQ"] = amqp
            print("| broker | published/s | consumed and acked/s, prefetch 1 |")
            print("|---|---|---|")
            for name, url in brokers.items():
                published, consumed = broker_rate(url, args.messages)
                print(f"| {name} | {published:,.0f} | {consumed:,.0f} |")


if __name__ == "__main__":
    main()
