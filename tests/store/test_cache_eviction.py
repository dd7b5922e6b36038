"""The chunk cache stays within its bound by evicting the least recently used entries
first; an entry a chunk has just used counts as recent, whenever it was added."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from chunkwise.store import Store, cache
from chunkwise.store.models import CacheEntry, utcnow

KEYS = [f"block:{number}" for number in range(6)]


def fill(store: Store) -> None:
    """Cache KEYS, each used a minute after the one before it, all an hour ago or more."""
    with store.writer() as session:
        cache.remember(session, entries={key: number for number, key in enumerate(KEYS)})
    start = utcnow() - timedelta(hours=1)
    with store.writer() as session:
        for number, key in enumerate(KEYS):
            used = start + timedelta(minutes=number)
            session.execute(update(CacheEntry).where(CacheEntry.key == key).values(used_at=used))


def cached(store: Store) -> dict[str, int]:
    with store.reader() as session:
        return cache.lookup(session, keys=KEYS)


def evict(store: Store, max_entries: int) -> int:
    with store.writer() as session:
        return cache.evict(session, max_entries=max_entries)


def test_the_least_recently_used_entries_go_first(store: Store) -> None:
    fill(store)

    assert evict(store, max_entries=4) == 2

    assert cached(store) == {key: number for number, key in enumerate(KEYS) if number >= 2}
    with store.reader() as session:
        assert cache.size(session) == 4


def test_an_entry_just_used_is_spared(store: Store) -> None:
    fill(store)
    with store.writer() as session:
        cache.touch(session, keys=[KEYS[0], KEYS[1]])

    assert evict(store, max_entries=3) == 3

    assert sorted(cached(store)) == [KEYS[0], KEYS[1], KEYS[5]]


def test_a_cache_within_its_bound_is_left_alone(store: Store) -> None:
    fill(store)

    assert evict(store, max_entries=len(KEYS)) == 0
    assert evict(store, max_entries=100) == 0

    assert len(cached(store)) == len(KEYS)


def test_a_bound_of_zero_empties_the_cache(store: Store) -> None:
    fill(store)

    assert evict(store, max_entries=0) == len(KEYS)

    assert cached(store) == {}
