"""kombu's Redis transport, less a cost it pays on every message.

kombu builds a new `redis.Redis` client object for each command it sends outside its
polling connection: the `unacked` bookkeeping when a message arrives, the ack when it is
done, each publish. Building one copies the client's table of response callbacks, which
profiling put at a third of a worker node's main-loop CPU per chunk; with one node per
machine, that loop serves every pool process. A channel here builds that client once and
reuses it. The client only borrows connections from the channel's pool, as before, so
what goes over the wire is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis

REDIS_SCHEMES = frozenset({"redis", "rediss"})
"""Broker URL schemes kombu serves with the transport this module extends."""


class Channel(kombu_redis.Channel):
    """A Redis channel that keeps one command client for its life."""

    _command_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        if self._command_client is None:
            self._command_client = self._create_client()  # type: ignore[no-untyped-call]
        yield self._command_client


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with `Channel` above."""

    Channel = Channel
