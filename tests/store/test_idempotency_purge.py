"""Idempotency keys are forgotten once past IDEMPOTENCY_TTL_S, in bounded batches, and
only those: a key still within its TTL keeps answering repeats."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from chunkwise.store import Store
from chunkwise.store import idempotency as records
from chunkwise.store.models import IdempotencyRecord, utcnow

TTL_S = 3600.0


def make_keys(store: Store, count: int, *, age: timedelta, prefix: str) -> None:
    with store.writer() as session:
        session.add_all(
            IdempotencyRecord(scope="user:1", key=f"{prefix}{n}", request_hash="h")
            for n in range(count)
        )
    with store.writer() as session:
        session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key.startswith(prefix))
            .values(created_at=utcnow() - age)
        )


def keys_left(store: Store) -> set[str]:
    with store.reader() as session:
        return set(session.scalars(select(IdempotencyRecord.key)))


def test_keys_past_their_ttl_are_purged_and_the_others_kept(store: Store) -> None:
    make_keys(store, 3, age=timedelta(seconds=TTL_S + 60), prefix="old-")
    make_keys(store, 2, age=timedelta(seconds=TTL_S - 60), prefix="new-")

    assert records.purge_expired_keys(store, ttl_s=TTL_S) == 3

    assert keys_left(store) == {"new-0", "new-1"}
    assert records.purge_expired_keys(store, ttl_s=TTL_S) == 0


def test_a_purge_goes_in_batches_and_stops_after_its_share(store: Store) -> None:
    # Each key a second older than the next, so a batch boundary falls between keys.
    count = 25
    with store.writer() as session:
        now = utcnow()
        session.add_all(
            IdempotencyRecord(
                scope="user:1",
                key=f"k{n}",
                request_hash="h",
                created_at=now - timedelta(seconds=TTL_S + 100 + n),
            )
            for n in range(count)
        )

    with store.writer() as session:
        assert records.purge_expired(session, expired_before=utcnow(), limit=10) == 10
    # The oldest go first.
    assert keys_left(store) == {f"k{n}" for n in range(15)}
    with store.reader() as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 15
