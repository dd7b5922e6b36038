"""A worker's heartbeat: a thread that keeps the worker's row in the store fresh."""

from __future__ import annotations

import logging
import threading

from chunkwise.errors import StoreUnavailableError
from chunkwise.store import Store
from chunkwise.store import workers as worker_rows

log = logging.getLogger(__name__)


class Heartbeat:
    """Writes `name`'s heartbeat every `interval_s` until stopped, then removes its row.

    Runs in the worker's main process, which stays responsive while pool children compute.
    """

    def __init__(self, store: Store, *, name: str, interval_s: float) -> None:
        self.store = store
        self.name = name
        self.interval_s = interval_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.beat()
        self._thread = threading.Thread(target=self._run, name="chunkwise-heartbeat", daemon=True)
        self._thread.start()

    def beat(self) -> None:
        try:
            with self.store.writer() as session:
                worker_rows.heartbeat(session, name=self.name)
        except StoreUnavailableError as exc:
            log.warning("heartbeat not written: %s", exc)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 5)
        try:
            with self.store.writer() as session:
                worker_rows.remove_worker(session, name=self.name)
        except StoreUnavailableError as exc:
            log.warning("worker row not removed: %s", exc)

    def _run(self) -> None:
        while not self._stopping.wait(self.interval_s):
            self.beat()
