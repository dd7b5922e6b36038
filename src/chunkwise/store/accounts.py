"""Accounts and their API tokens in the store. Hashing is the caller's: only hashes
arrive here, so no password or token can reach the database in clear."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from chunkwise.store.clock import db_now
from chunkwise.store.models import ApiToken, User
from chunkwise.store.writes import rows_changed


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    email: str
    is_admin: bool
    created_at: datetime


def _account(user: User) -> Account:
    return Account(user.id, user.email, user.is_admin, user.created_at)


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
