"""Passwords, access tokens and API tokens: made, checked and hashed here, nowhere else.

- Passwords: Argon2id through pwdlib, with its recommended parameters.
- Access tokens: short-lived JWTs (HS256) from login, signed with JWT_SECRET; when that is
  unset, a random key made once and kept in the store (`store/kept_secrets.py`), so every
  API replica signs alike, wherever it runs, and a restart keeps sessions. Each names its
  session (`sid`) and the account's session generation (`gen`), which the store checks
  on every use, so signing out, a password change or an admin's revoke ends it at once
  (`store/accounts.py`).
- CSRF tokens: an HMAC of the session's token under the same key, so a CSRF token is good
  for its own session only, and no one without the key can make one.
- API tokens: 256 random bits, shown once; the store keeps their SHA-256 only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

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


@dataclass(frozen=True)
class SessionClaims:
    """What an access token says: whose session, which one, signed under which of the
    account's generations, and until when."""

    user_id: uuid.UUID
    session_id: str
    generation: int
    expires_at: datetime


def access_token(user_id: uuid.UUID, *, generation: int, key: str, ttl_s: int) -> str:
    """A new session's access token, for the account at its current `generation`."""
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "sid": secrets.token_hex(16),
        "gen": generation,
        "iat": now,
        "exp": now + ttl_s,
        "typ": "access",
    }
    return jwt.encode(claims, key, algorithm=JWT_ALGORITHM)


def session_of_access_token(token: str, *, key: str) -> SessionClaims | None:
    """The session an unexpired, well-signed access token names; None otherwise (a token
    from before sessions could end, without `sid` and `gen`, included)."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub", "sid", "gen"]},
        )
        generation = claims["gen"]
        if not isinstance(generation, int) or isinstance(generation, bool):
            return None
        return SessionClaims(
            user_id=uuid.UUID(str(claims["sub"])),
            session_id=str(claims["sid"]),
            generation=generation,
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError, OverflowError):
        return None


def csrf_token(session_token: str, *, key: str) -> str:
    """The CSRF token of the session whose token is `session_token`."""
    mac = hmac.new(key.encode(), b"csrf:" + session_token.encode(), hashlib.sha256)
    return mac.hexdigest()


def csrf_matches(given: str | None, session_token: str, *, key: str) -> bool:
    return given is not None and hmac.compare_digest(
        given.encode(), csrf_token(session_token, key=key).encode()
    )


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
