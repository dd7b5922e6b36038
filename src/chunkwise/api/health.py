"""/health answered from probes refreshed in the background.

Probing the broker and the store on every call opened a broker connection and ran two
queries per request, so /health served a few hundred calls a second and load on it
slowed everything else. Two threads of the API process probe instead, one per part,
every HEALTH_PROBE_INTERVAL_S, and /health reads what they found last. One thread per
part, so a broker probe waiting out its timeout never ages the store's answer.

A part is reported up only if its last probe succeeded and that success is at most
`stale_s` old, so a part that goes down shows at the next probe, and a probe that hangs
(a broker that stopped answering, a store behind a dead network) shows the part down
once its last success has aged past `stale_s`. Without the thread running (a test app
whose lifespan never ran), every call probes, as before.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from celery import Celery

from chunkwise.api.probes import broker_answers, live_capacity, store_answers
from chunkwise.schemas import Health
from chunkwise.store import Store

log = logging.getLogger(__name__)

STALE_PROBES = 3
"""How many probe intervals a success stays good for (at the default 0.5 s: 1.5 s)."""


class HealthMonitor:
    """The broker's and the store's last known state, kept fresh by one thread."""

    def __init__(self, store: Store, celery: Celery, *, ttl_s: float, interval_s: float) -> None:
        self.store = store
        self.celery = celery
        self.ttl_s = ttl_s
        self.interval_s = interval_s
        self.stale_s = STALE_PROBES * interval_s
        self._store_seen = self._broker_seen = -math.inf
        self._store_ok = self._broker_ok = False
        self._capacity = (0, 0)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def probe(self) -> None:
        """Probe both parts once and remember what they said."""
        self.probe_store()
        self.probe_broker()

    def probe_store(self) -> None:
        self._store_ok = store_answers(self.store)
        if self._store_ok:
            self._capacity = self._live_capacity()
            self._store_seen = time.monotonic()

    def probe_broker(self) -> None:
        self._broker_ok = broker_answers(self.celery)
        if self._broker_ok:
            self._broker_seen = time.monotonic()

    def report(self) -> Health:
        """What /health says; probes first when no background thread keeps it fresh."""
        if not self.running:
            self.probe()
        now = time.monotonic()
        store_ok = self._store_ok and now - self._store_seen <= self.stale_s
        broker_ok = self._broker_ok and now - self._broker_seen <= self.stale_s
        workers, processes = self._capacity if store_ok else (0, 0)
        return Health(
            status="ok" if store_ok and broker_ok else "unavailable",
            workers=workers,
            processes=processes,
            broker="ok" if broker_ok else "unreachable",
            database="ok" if store_ok else "unreachable",
        )

    @property
    def running(self) -> bool:
        """Whether a background thread keeps the report fresh."""
        return bool(self._threads)

    def start(self) -> None:
        """Probe the store now, and each part every `interval_s` on a daemon thread (the
        broker's first probe at once, there: it may wait out its timeout)."""
        self.probe_store()
        for name, probe in (("store", self.probe_store), ("broker", self.probe_broker)):
            thread = threading.Thread(
                target=self._run, args=(probe,), name=f"chunkwise-health-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def _run(self, probe: Callable[[], None]) -> None:
        while True:
            try:
                probe()
            except Exception:  # the next round tries again; /health ages meanwhile
                log.exception("health probe failed")
            if self._stopping.wait(self.interval_s):
                return

    def _live_capacity(self) -> tuple[int, int]:
        try:
            return live_capacity(self.store, ttl_s=self.ttl_s)
        except Exception:
            log.warning("could not count live workers", exc_info=True)
            return (0, 0)
