"""Which workload kinds this API offers: the built-in ones always, another package's only
while a live worker runs it.

A built-in kind ships with every worker of this release, so a job of it is accepted even
with no worker alive and waits in the queue: a queue must survive a rolling restart of
every worker. A kind from another package may be installed beside the API and on no
worker, and a job of it would wait forever; so it is refused (400) until a live worker
reports the kind with its heartbeat (`worker/lease.py`). Live means what it means for
/api/workers: a heartbeat within WORKER_TTL_S, by the store's clock.

Checking a built-in kind reads nothing (the submit path is measured). The live kinds are
read from the store at most every LIVE_KINDS_CACHE_S, so a burst of plug-in submissions
costs one read, and a worker that joins or dies shows within that much after the store
sees it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping

from chunkwise.errors import InvalidJobError
from chunkwise.store import Store
from chunkwise.store import workers as worker_rows
from chunkwise.workloads import (
    UnknownWorkloadError,
    built_in_kinds,
    is_built_in,
    workload_kinds,
    workload_package,
)


class KindOffer:
    """The kinds live workers run, as the store said at most `max_age_s` ago."""

    def __init__(self, store: Store, *, ttl_s: float, max_age_s: float) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._read_at = -math.inf
        self._live: Mapping[str, int] = {}

    def check(self, kind: str) -> None:
        """Refuse (InvalidJobError on `kind`) a kind from another package that no live
        worker runs. An unknown kind passes: validation names the known ones."""
        if is_built_in(kind):
            return
        try:
            package = workload_package(kind)
        except UnknownWorkloadError:
            return
        if not self.live_kinds().get(kind):
            raise InvalidJobError(
                f"kind: no live worker runs {kind!r} (from the package {package}); "
                "it is offered once a worker with that package installed is running",
                field="kind",
            )

    def offered(self) -> list[tuple[str, int]]:
        """Each kind offered now, with how many live workers run it, sorted by kind."""
        live = self.live_kinds()
        return [
            (kind, live.get(kind, 0))
            for kind in workload_kinds()
            if is_built_in(kind) or live.get(kind)
        ]

    def live_kinds(self) -> Mapping[str, int]:
        """Live workers by the kind they run; a node that says no kinds runs the built-in."""
        with self._lock:  # one read per refresh, however many requests wait for it
            if time.monotonic() - self._read_at >= self.max_age_s:
                with self.store.reader() as session:
                    self._live = worker_rows.live_kinds(
                        session, ttl_s=self.ttl_s, unsaid=built_in_kinds()
                    )
                self._read_at = time.monotonic()
            return self._live
