"""Idempotency-Key claims on every backend: the first claims, a repeat replays, another
body mismatches, an unanswered claim is in progress until it is abandoned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chunkwise.store import Store
from chunkwise.store import idempotency as records
from chunkwise.store.idempotency import Claim

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def claim(store: Store, key: str, body_hash: str = "h1", *, abandon_after_s: float = 30) -> Claim:
    now = datetime.now(UTC)
    with store.writer() as session:
        return records.claim_key(
            session,
            scope="user:1",
            key=key,
            request_hash=body_hash,
            expired_before=LONG_AGO,
            abandoned_before=now - timedelta(seconds=abandon_after_s),
        ).claim


def test_a_key_is_claimed_once_then_replayed_or_refused(store: Store) -> None:
    assert claim(store, "k") is Claim.NEW
    assert claim(store, "k") is Claim.IN_PROGRESS
    assert claim(store, "k", "h2") is Claim.MISMATCH
    with store.writer() as session:
        records.remember(session, scope="user:1", key="k", status_code=202, body="{}")
    assert claim(store, "k") is Claim.REPLAY


def test_an_unanswered_claim_is_taken_over_once_abandoned(store: Store) -> None:
    assert claim(store, "k") is Claim.NEW
    assert claim(store, "k", abandon_after_s=-60) is Claim.NEW  # older than the cut-off
    assert claim(store, "k") is Claim.IN_PROGRESS  # the take-over renewed the claim
