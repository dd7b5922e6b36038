"""A webhook receiver for tests: a real HTTP server on loopback, in a thread, that answers
each POST with the next status of a script and keeps what it got."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


class Receiver:
    """Answers the POSTs it gets with `statuses` in turn (the last one from then on)."""

    def __init__(self, statuses: Sequence[int], *, redirect_to: str = "") -> None:
        self.statuses = list(statuses)
        self.redirect_to = redirect_to
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    index = min(len(receiver.received), len(receiver.statuses) - 1)
                    status = receiver.statuses[index]
                    receiver.received.append(
                        Received(self.path, dict(self.headers.items()), body, status)
                    )
                self.send_response(status)
                if receiver.redirect_to:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/chunkwise?source=test"

    def got(self, count: int) -> list[Received] | None:
        """The first `count` requests, once that many came (for `wait_for`)."""
        with self._lock:
            return list(self.received[:count]) if len(self.received) >= count else None


@contextmanager
def receiving(statuses: Sequence[int], *, redirect_to: str = "") -> Iterator[Receiver]:
    receiver = Receiver(statuses, redirect_to=redirect_to)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(timeout=10)
