"""A worker node's duties beside computing: each on its own interval, on one thread.

Reaping dead peers, sweeping orphaned chunks, bounding the chunk cache and expiring old
jobs all talk to the store or the broker and can be slow. They run here, not on the lease
thread, so none of them can delay a lease renewal. A duty that raises is logged and runs
again at its next time; one slow duty only delays the others on this thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Duty:
    """A named action run every `interval_s`, first after `first_after_s`."""

    name: str
    interval_s: float
    action: Callable[[], object]
    first_after_s: float = 0.0
    next_at: float = field(default=0.0, init=False)


class Duties:
    """Runs duties on a daemon thread until stopped."""

    def __init__(self, duties: list[Duty]) -> None:
        self.duties = duties
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        now = time.monotonic()
        for duty in self.duties:
            duty.next_at = now + duty.first_after_s
        self._thread = threading.Thread(target=self._run, name="chunkwise-duties", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def run_due(self) -> float:
        """Run every duty that is due; returns seconds until the next one is."""
        for duty in self.duties:
            if time.monotonic() >= duty.next_at:
                duty.next_at = time.monotonic() + duty.interval_s
                try:
                    duty.action()
                except Exception:
                    log.exception(
                        "worker duty %s failed; it runs again in %s s", duty.name, duty.interval_s
                    )
        next_at = min((duty.next_at for duty in self.duties), default=time.monotonic() + 1.0)
        return max(0.0, next_at - time.monotonic())

    def _run(self) -> None:
        while not self._stopping.wait(self.run_due()):
            pass
