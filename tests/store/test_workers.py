"""Worker rows: live while they heartbeat, claimed once when they fall silent."""

from __future__ import annotations

from chunkwise.store import Store
from chunkwise.store import workers as worker_rows


def test_workers_are_live_while_they_heartbeat(store: Store) -> None:
    with store.writer() as session:
        worker_rows.heartbeat(session, name="w1@host")
        worker_rows.heartbeat(session, name="w2@host")
    with store.writer() as session:
        worker_rows.heartbeat(session, name="w1@host")
    with store.reader() as session:
        assert worker_rows.live_workers(session, ttl_s=60) == ["w1@host", "w2@host"]
        assert worker_rows.live_capacity(session, ttl_s=60) == (2, 2)
        assert worker_rows.live_capacity(session, ttl_s=0) == (0, 0)
    with store.writer() as session:
        worker_rows.remove_worker(session, name="w2@host")
    with store.reader() as session:
        assert worker_rows.live_workers(session, ttl_s=60) == ["w1@host"]


def test_a_silent_worker_is_claimed_once_with_what_it_held(store: Store) -> None:
    with store.writer() as session:
        worker_rows.heartbeat(session, name="gone@host", holding=["a:1", "a:2"])
        worker_rows.heartbeat(session, name="alive@host", holding=["b:0"])
    with store.writer() as session:
        assert worker_rows.claim_dead_workers(session, ttl_s=60) == []
    with store.writer() as session:
        # A negative TTL: every row is stale, even one written in this millisecond.
        dead = worker_rows.claim_dead_workers(session, ttl_s=-1)
    assert sorted((w.name, w.holding) for w in dead) == [
        ("alive@host", ["b:0"]),
        ("gone@host", ["a:1", "a:2"]),
    ]
    with store.writer() as session:
        assert worker_rows.claim_dead_workers(session, ttl_s=0) == []
