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


def test_live_kinds_count_the_live_nodes_that_run_each_kind(store: Store) -> None:
    built_in = {"sum_range", "prime_count"}
    with store.writer() as session:
        worker_rows.heartbeat(session, name="new@a", kinds=["sum_range", "prime_count", "cubes"])
        worker_rows.heartbeat(session, name="new@b", kinds=["sum_range", "cubes", "squares"])
        worker_rows.heartbeat(session, name="old@c")  # a node that does not say: the built-in
    with store.reader() as session:
        kinds = worker_rows.live_kinds(session, ttl_s=60, unsaid=built_in)
        assert worker_rows.live_kinds(session, ttl_s=-1, unsaid=built_in) == {}
    assert kinds == {"sum_range": 3, "prime_count": 2, "cubes": 2, "squares": 1}

    # A node's next beat says what it runs now
    with store.writer() as session:
        worker_rows.heartbeat(session, name="new@b", kinds=["sum_range"])
        worker_rows.remove_worker(session, name="old@c")
    with store.reader() as session:
        assert worker_rows.live_kinds(session, ttl_s=60, unsaid=built_in) == {
            "sum_range": 2,
            "prime_count": 1,
            "cubes": 1,
        }
