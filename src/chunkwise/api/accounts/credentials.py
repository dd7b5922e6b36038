"""Passwords, access tokens and API tokens: made, checked and hashed here, nowhere else.

- Passwords: Argon2id through pwdlib, with its recommended parameters.
- Access tokens: short-lived JWTs (HS256) from login, signed with JWT_SECRET; when that is
  unset, a random key made once and kept in the store (`store/kept_secrets.py`), so every
  API replica signs alike, wherever it runs, and a restart keeps sessions.
- API tokens: 256 random bits, shown once; the store keeps their SHA-256 only.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid

import jwt
from pwdlib import PasswordHash

from chunkwise.config import Settings
from chunkwise.store import Store
from chunkwise.store.kept_secrets import ACCESS_TOKEN_KEY, setting_or_kept

API_TOKEN_PREFIX = "cw_"
"""Marks an API token, so it is told from an access token (a JWT) at a glance."""
JWT_ALGORITHM = "HS256"

_hasher = PasswordHash.recommended()
_DUMMY_HASH = _hasher.hash("an unknown account's password is checked against this")
"""Checked when the email is unknown, so the answer takes as long as for a wrong password."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password: str, stored_hash: str | None) -> bool:
    """Whether `password` matches; with no stored hash, spends the same time and says no."""
    if stored_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    return _hasher.verify(password, stored_hash)


class SigningKey:
    """The key access tokens are signed with: JWT_SECRET, or the deployment's own key
    from the store, read once. Not read at construction: the app is built before its
    lifespan brings the store's schema up; the lifespan reads it right after."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._key: str | None = None

    def __call__(self) -> str:
        if self._key is None:
            self._key = setting_or_kept(
                self.store,
                given=self.settings.jwt_secret,
                name=ACCESS_TOKEN_KEY,
                legacy_dir=self.settings.data_dir,
            )
        return self._key


def access_token(user_id: uuid.UUID, *, key: str, ttl_s: int) -> str:
    now = int(time.time())
    claims = {"sub": str(user_id), "iat": now, "exp": now + ttl_s, "typ": "access"}
    return jwt.encode(claims, key, algorithm=JWT_ALGORITHM)


def user_of_access_token(token: str, *, key: str) -> uuid.UUID | None:
    """The user an unexpired, well-signed access token names; None otherwise."""
    try:
        claims = jwt.decode(token, key, algorithms=[JWT_ALGORITHM], options={"require": ["exp"]})
        return uuid.UUID(str(claims["sub"]))
    except (jwt.InvalidTokenError, KeyError, ValueError):
        return None


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
