"""`GET /metrics` in Prometheus's text format, with prometheus-client.

Two sources, so that every API process of a deployment reports correctly:
- what this process saw: requests by route (a latency histogram) and jobs it accepted, by
  kind; Prometheus adds the processes up;
- what the store and the broker say at the scrape, the same from any process: jobs kept,
  by kind and state (submitted is their sum; ended, the terminal states); chunks recorded
  and served from the cache, by kind; a histogram of chunk durations by kind; live
  workers and their processes; completion webhooks by delivery state; chunks waiting in
  the broker's queue.

The store-derived figures cover the jobs kept, so they fall when retention removes old
jobs; Prometheus reads such a fall of a histogram as a counter reset, which is right for
rates over any window shorter than the retention.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from celery import Celery
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chunkwise.engine.celery_app import queued_chunks
from chunkwise.store import Store
from chunkwise.store.inspection import DurationHistogram, chunk_durations
from chunkwise.store.models import Job
from chunkwise.store.webhooks import count_by_state
from chunkwise.store.workers import live_capacity

log = logging.getLogger(__name__)

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
CHUNK_BUCKETS_S = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""Chunks take from a millisecond (a cached block) to minutes (a large π(x) segment)."""


class ApiMetrics:
    """This API process's registry: its own counters, and the store's view at each scrape."""

    def __init__(self, store: Store, celery: Celery, *, ttl_s: float) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "chunkwise_api_request_seconds",
            "API request latency by method and route, until the response is sent.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.submitted = Counter(
            "chunkwise_jobs_submitted",
            "Jobs this API process accepted, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.registry.register(StoreCollector(store, celery, ttl_s=ttl_s))


class StoreCollector(Collector):
    """Gauges read from the store and the broker when Prometheus scrapes."""

    def __init__(self, store: Store, celery: Celery, *, ttl_s: float) -> None:
        self.store, self.celery, self.ttl_s = store, celery, ttl_s

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "chunkwise_jobs", "Jobs kept, by kind and state.", labels=["kind", "state"]
        )
        recorded = GaugeMetricFamily(
            "chunkwise_chunks_recorded",
            "Recorded chunks of the jobs kept, by kind.",
            labels=["kind"],
        )
        cached = GaugeMetricFamily(
            "chunkwise_chunks_cached",
            "Recorded chunks served wholly from the chunk cache, by kind.",
            labels=["kind"],
        )
        query = select(
            Job.kind,
            Job.state,
            func.count(),
            func.coalesce(func.sum(Job.completed_chunks), 0),
            func.coalesce(func.sum(Job.cached_chunks), 0),
        ).group_by(Job.kind, Job.state)
        with self.store.reader() as session:
            rows = session.execute(query).all()
            durations = chunk_durations(session, bounds_s=CHUNK_BUCKETS_S)
            nodes, processes = live_capacity(session, ttl_s=self.ttl_s)
            webhooks = count_by_state(session)
        totals: dict[str, tuple[int, int]] = {}
        for kind, state, count, done, from_cache in rows:
            jobs.add_metric([kind, str(state)], count)
            before = totals.get(kind, (0, 0))
            totals[kind] = (before[0] + int(done), before[1] + int(from_cache))
        for kind, (done, from_cache) in sorted(totals.items()):
            recorded.add_metric([kind], done)
            cached.add_metric([kind], from_cache)
        yield jobs
        yield recorded
        yield cached
        yield chunk_duration_family(durations)
        deliveries = GaugeMetricFamily(
            "chunkwise_webhook_deliveries",
            "Completion webhooks of the jobs kept, by state (waiting, pending, delivered, failed).",
            labels=["state"],
        )
        for delivery_state, count in sorted(webhooks.items()):
            deliveries.add_metric([delivery_state], count)
        yield deliveries
        yield GaugeMetricFamily("chunkwise_workers", "Live worker nodes.", value=nodes)
        yield GaugeMetricFamily(
            "chunkwise_worker_processes",
            "Pool processes of the live worker nodes.",
            value=processes,
        )
        try:
            depth = queued_chunks(self.celery)
        except Exception as exc:  # the broker away: the gauge is left out, not the scrape
            log.warning("queue depth unknown: %s", exc)
            return
        yield GaugeMetricFamily("chunkwise_queued_chunks", "Chunk messages waiting.", value=depth)


def chunk_duration_family(durations: dict[str, DurationHistogram]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "chunkwise_chunk_seconds",
        "Seconds from a chunk's start to its record, by kind, over the jobs kept.",
        labels=["kind"],
    )
    for kind, histogram in sorted(durations.items()):
        buckets = [
            (str(bound), count)
            for bound, count in zip(CHUNK_BUCKETS_S, histogram.at_most, strict=True)
        ]
        family.add_metric(
            [kind], [*buckets, ("+Inf", histogram.count)], sum_value=histogram.total_s
        )
    return family


class RequestTimingMiddleware:
    """Times every HTTP request into the latency histogram, labelled by its route's path
    template (`/api/jobs/{job_id}`), so ids do not explode the label set."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                route = scope.get("route")
                path = getattr(route, "path", None) or "unmatched"
                self.metrics.requests.labels(scope["method"], path).observe(
                    time.perf_counter() - started
                )

        await self.app(scope, receive, timed_send)
