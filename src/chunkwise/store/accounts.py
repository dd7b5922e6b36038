"""Accounts, their API tokens and their sessions in the store. Hashing is the caller's:
only hashes arrive here, so no password or token can reach the database in clear.

A session is an access token's life. It ends before the token expires in two ways: one
session when it is signed out (its id is kept in `ended_sessions` until the token would
have expired), or all of an account's at once when its session generation moves on (a
password change, an admin's revoke), since a token is good only for the generation it
was signed under. Both are read with the account, in the one query every request makes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from chunkwise.store.clock import db_now
from chunkwise.store.models import ApiToken, EndedSession, User
from chunkwise.store.writes import connection_of, insert_ignoring_conflicts, rows_changed


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    email: str
    is_admin: bool
    created_at: datetime
    session_generation: int = 0
    """What a new access token of the account is signed under."""


def _account(user: User) -> Account:
    return Account(user.id, user.email, user.is_admin, user.created_at, user.session_generation)


def create_user(
    session: Session, *, email: str, password_hash: str, admin: bool | None = None
) -> Account:
    """Add an account; the first one is an admin unless `admin` says otherwise.

    Raises sqlalchemy's IntegrityError when the email is taken.
    """
    if admin is None:
        admin = session.scalar(select(func.count()).select_from(User)) == 0
    user = User(id=uuid.uuid4(), email=email, password_hash=password_hash, is_admin=admin)
    session.add(user)
    session.flush()
    return _account(user)


def make_admin(session: Session, *, email: str) -> bool:
    """Give an existing account admin rights; False if there is no such account."""
    result = session.execute(update(User).where(User.email == email).values(is_admin=True))
    return rows_changed(result) == 1


def password_hash_of(session: Session, *, email: str) -> tuple[Account, str] | None:
    """The account with this email and its stored password hash."""
    user = session.scalar(select(User).where(User.email == email))
    return None if user is None else (_account(user), user.password_hash)


def get_account(session: Session, *, user_id: uuid.UUID) -> Account | None:
    user = session.get(User, user_id)
    return None if user is None else _account(user)


def account_of_session(
    session: Session, *, user_id: uuid.UUID, session_id: str, generation: int
) -> Account | None:
    """The account of an access token's session, if that session is still open: signed
    under the account's current generation, and not signed out."""
    signed_out = select(EndedSession.session_id).where(EndedSession.session_id == session_id)
    query = select(User).where(
        User.id == user_id, User.session_generation == generation, ~signed_out.exists()
    )
    user = session.scalar(query)
    return None if user is None else _account(user)


def end_session(session: Session, *, session_id: str, expires_at: datetime) -> None:
    """Sign one session out: its token is refused until `expires_at`, when it would be
    anyway. Sessions already past theirs are forgotten here, so the table holds no more
    than the sign-outs of one token lifetime."""
    session.execute(delete(EndedSession).where(EndedSession.expires_at < db_now()))
    dialect = connection_of(session).dialect.name
    session.execute(
        insert_ignoring_conflicts(EndedSession, dialect),
        {"session_id": session_id, "expires_at": expires_at},
    )


def change_password(session: Session, *, user_id: uuid.UUID, password_hash: str) -> None:
    """Set a new password hash and end every session of the account, in one statement."""
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(password_hash=password_hash, session_generation=User.session_generation + 1)
    )


@dataclass(frozen=True)
class Revoked:
    """What an admin's revoke ended: the account's sessions, and this many API tokens."""

    email: str
    api_tokens: int


def revoke_account(session: Session, *, email: str) -> Revoked | None:
    """End every session of the account and revoke its API tokens; None if no account
    has this email."""
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        return None
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(session_generation=User.session_generation + 1)
    )
    tokens = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=db_now())
    )
    return Revoked(email=email, api_tokens=rows_changed(tokens))


@dataclass(frozen=True)
class TokenInfo:
    id: uuid.UUID
    name: str
    created_at: datetime


def add_token(session: Session, *, user_id: uuid.UUID, name: str, token_hash: str) -> TokenInfo:
    token = ApiToken(id=uuid.uuid4(), user_id=user_id, name=name, token_hash=token_hash)
    session.add(token)
    session.flush()
    return TokenInfo(token.id, token.name, token.created_at)


def list_tokens(session: Session, *, user_id: uuid.UUID) -> list[TokenInfo]:
    """The user's tokens not revoked, oldest first."""
    query = (
        select(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at)
    )
    return [TokenInfo(t.id, t.name, t.created_at) for t in session.scalars(query)]


def revoke_token(session: Session, *, user_id: uuid.UUID, token_id: uuid.UUID) -> bool:
    """Revoke one of the user's tokens; False if it has none by that id (or it is revoked)."""
    result = session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            ApiToken.user_id == user_id,
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=db_now())
    )
    return rows_changed(result) == 1


def account_for_token(session: Session, *, token_hash: str) -> Account | None:
    """The owner of a live (unrevoked) token with this hash."""
    query = (
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    )
    user = session.scalar(query)
    return None if user is None else _account(user)
