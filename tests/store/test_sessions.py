"""Sessions in the store, on every backend: a signed-out session is refused until its
token would expire and then forgotten; a password change and an admin's revoke end every
session of the account at once, and the revoke its API tokens too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from chunkwise.store import Store
from chunkwise.store import accounts as rows
from chunkwise.store.models import EndedSession

LATER = datetime.now(UTC) + timedelta(hours=1)


def make_account(store: Store, email: str = "ada@example.com") -> rows.Account:
    with store.writer() as session:
        return rows.create_user(session, email=email, password_hash="argon2-hash")


def is_open(store: Store, account: rows.Account, session_id: str, generation: int = 0) -> bool:
    with store.reader() as session:
        found = rows.account_of_session(
            session, user_id=account.id, session_id=session_id, generation=generation
        )
    return found is not None


def test_a_signed_out_session_is_refused_and_the_others_are_not(store: Store) -> None:
    ada = make_account(store)
    assert is_open(store, ada, "a" * 32) and is_open(store, ada, "b" * 32)
    with store.writer() as session:
        rows.end_session(session, session_id="a" * 32, expires_at=LATER)
    with store.writer() as session:  # twice is once
        rows.end_session(session, session_id="a" * 32, expires_at=LATER)
    assert not is_open(store, ada, "a" * 32)
    assert is_open(store, ada, "b" * 32)


def test_ended_sessions_past_their_expiry_are_forgotten(store: Store) -> None:
    with store.writer() as session:
        rows.end_session(session, session_id="old", expires_at=LATER - timedelta(days=1))
        rows.end_session(session, session_id="new", expires_at=LATER)
    with store.writer() as session:
        rows.end_session(session, session_id="newer", expires_at=LATER)
    with store.reader() as session:
        kept = set(session.scalars(select(EndedSession.session_id)))
    assert kept == {"new", "newer"}


def test_a_password_change_ends_every_session_of_the_account(store: Store) -> None:
    ada, bob = make_account(store), make_account(store, "bob@example.com")
    with store.writer() as session:
        rows.change_password(session, user_id=ada.id, password_hash="another-hash")
    assert not is_open(store, ada, "a" * 32, generation=0)
    assert is_open(store, ada, "a" * 32, generation=1)
    assert is_open(store, bob, "b" * 32, generation=0)
    with store.reader() as session:
        found = rows.password_hash_of(session, email="ada@example.com")
    assert found is not None and found[1] == "another-hash"
    assert found[0].session_generation == 1


def test_a_revoke_ends_every_session_and_api_token(store: Store) -> None:
    ada = make_account(store)
    with store.writer() as session:
        rows.add_token(session, user_id=ada.id, name="ci", token_hash="1" * 64)
        rows.add_token(session, user_id=ada.id, name="laptop", token_hash="2" * 64)
    with store.writer() as session:
        revoked = rows.revoke_account(session, email="ada@example.com")
        unknown = rows.revoke_account(session, email="nobody@example.com")
    assert revoked == rows.Revoked(email="ada@example.com", api_tokens=2) and unknown is None
    assert not is_open(store, ada, "a" * 32, generation=0)
    with store.reader() as session:
        assert rows.account_for_token(session, token_hash="1" * 64) is None
        assert rows.list_tokens(session, user_id=ada.id) == []
        assert session.scalar(select(func.count()).select_from(EndedSession)) == 0
