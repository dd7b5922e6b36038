"""A worker node's lease: a thread that only renews the node's heartbeat row.

It runs in the worker's main process, which stays responsive while pool children compute,
so a chunk that computes for an hour keeps its lease. A newly received chunk wakes the
thread early, so a lease names a chunk within moments of its arrival.

The thread does nothing else: reaping, sweeping and retention run on the duties thread
(`worker.duties`), so a slow sweep or a broker timeout never delays a renewal. It also
never dies: any error (the store unreachable, SQLite busy past its timeout, a bug) is
logged and the next beat comes on time, because a node that computes on without a lease
would have its chunks taken over by its peers while it still runs them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from chunkwise.errors import ServiceUnavailableError
from chunkwise.store import Store
from chunkwise.store import workers as worker_rows

log = logging.getLogger(__name__)

MIN_BEAT_GAP_S = 0.1
"""Early beats are at least this far apart, so a burst of tiny chunks costs few writes."""


class Lease:
    """Writes `name`'s heartbeat, held chunks and workload kinds every `interval_s` until
    stopped. The kinds ride on the heartbeat so that the API offers a kind from another
    package only while a live node can run it (`api/kind_offer.py`)."""

    def __init__(
        self,
        store: Store,
        *,
        name: str,
        interval_s: float,
        processes: int = 1,
        holding: Callable[[], Sequence[str]] = tuple,
        kinds: Sequence[str] | None = None,
        alive_file: Path | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.interval_s = interval_s
        self.processes = processes
        self.holding = holding
        self.kinds = None if kinds is None else list(kinds)
        self.alive_file = alive_file
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._in_contact_since: float | None = None

    def start(self) -> None:
        self.beat()
        self._show_alive()
        self._thread = threading.Thread(target=self._run, name="chunkwise-lease", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Beat soon: something the lease should name has arrived."""
        self._wake.set()

    def beat(self) -> bool:
        """Renew the lease once; False (logged) when it could not be written."""
        try:
            with self.store.writer() as session:
                worker_rows.heartbeat(
                    session,
                    name=self.name,
                    holding=self.holding(),
                    processes=self.processes,
                    kinds=self.kinds,
                )
        except Exception as exc:
            self._in_contact_since = None
            log.warning("lease of %s not renewed: %s", self.name, exc, exc_info=_is_bug(exc))
            return False
        if self._in_contact_since is None:
            self._in_contact_since = time.monotonic()
        return True

    def contact_s(self) -> float:
        """For how long every beat has been written (0 after a failed one).

        A node that could not reach the store cannot tell its peers' silence from its
        own: it waits until it has been in contact for a whole TTL before it reaps.
        """
        since = self._in_contact_since
        return 0.0 if since is None else time.monotonic() - since

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 5)
        try:
            with self.store.writer() as session:
                worker_rows.remove_worker(session, name=self.name)
        except Exception as exc:
            log.warning("worker row of %s not removed: %s", self.name, exc)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.interval_s)
            if self._stopping.is_set():
                return
            time.sleep(MIN_BEAT_GAP_S)  # let a burst of arrivals share one write
            self._wake.clear()
            self.beat()
            self._show_alive()

    def _show_alive(self) -> None:
        """Touch the alive file (`python -m chunkwise.probe worker` reads its age): each
        round, whether or not the store answered, since a store outage is no reason for
        an orchestrator to restart the worker."""
        if self.alive_file is None:
            return
        try:
            self.alive_file.touch()
        except OSError as exc:
            log.warning("could not touch %s: %s", self.alive_file, exc)


def _is_bug(exc: BaseException) -> bool:
    """Whether a failed beat deserves its stack in the log (not a plain outage)."""
    return not isinstance(exc, ServiceUnavailableError | ConnectionError | TimeoutError)
