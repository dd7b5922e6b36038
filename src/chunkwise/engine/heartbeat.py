"""A worker's heartbeat: a thread that renews the worker's lease on the chunks it holds.

It runs in the worker's main process, which stays responsive while pool children compute,
so a chunk that computes for an hour keeps its lease. A newly received chunk wakes the
thread early, so a lease names a chunk within moments of its arrival.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from chunkwise.errors import StoreUnavailableError
from chunkwise.store import Store
from chunkwise.store import workers as worker_rows

log = logging.getLogger(__name__)

MIN_BEAT_GAP_S = 0.1
"""Early beats are at least this far apart, so a burst of tiny chunks costs few writes."""


class Heartbeat:
    """Writes `name`'s heartbeat and held chunks every `interval_s` until stopped."""

    def __init__(
        self,
        store: Store,
        *,
        name: str,
        interval_s: float,
        holding: Callable[[], Sequence[str]] = tuple,
        after_beat: Callable[[], object] | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.interval_s = interval_s
        self.holding = holding
        self.after_beat = after_beat
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.beat()
        self._thread = threading.Thread(target=self._run, name="chunkwise-heartbeat", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Beat soon: something the lease should name has arrived."""
        self._wake.set()

    def beat(self) -> None:
        try:
            with self.store.writer() as session:
                worker_rows.heartbeat(session, name=self.name, holding=self.holding())
        except StoreUnavailableError as exc:
            log.warning("heartbeat not written: %s", exc)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 5)
        try:
            with self.store.writer() as session:
                worker_rows.remove_worker(session, name=self.name)
        except StoreUnavailableError as exc:
            log.warning("worker row not removed: %s", exc)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.interval_s)
            if self._stopping.is_set():
                return
            time.sleep(MIN_BEAT_GAP_S)  # let a burst of arrivals share one write
            self._wake.clear()
            self.beat()
            if self.after_beat is not None:
                try:
                    self.after_beat()
                except Exception:
                    log.exception("after-beat hook failed")
