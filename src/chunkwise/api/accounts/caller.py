"""Who is calling: resolved once per request from `Authorization: Bearer …` (an access
token or an API token) or the dashboard's session cookie, and what they may see.

An access token is good while its session is open (`store/accounts.py`): signing out,
a password change and an admin's revoke end it at once, as a cookie and as a Bearer
token alike. A request signed by the session cookie that changes anything must also carry
the session's CSRF token, which is bound to that session (`credentials.csrf_token`).

Another user's job answers 404, exactly as a job that does not exist, so an id tells a
stranger nothing. With accounts off (a private install), every caller sees every job.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from chunkwise.api.accounts import credentials
from chunkwise.errors import AuthenticationError
from chunkwise.store import Store
from chunkwise.store.accounts import Account, account_for_token, account_of_session
from chunkwise.store.jobs import EVERYONES, Visible

SESSION_COOKIE = "chunkwise_session"
CSRF_COOKIE = "chunkwise_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Caller:
    """The account behind a request, or None; and whether accounts are on."""

    account: Account | None
    auth_on: bool

    @property
    def sees_everything(self) -> bool:
        return not self.auth_on or (self.account is not None and self.account.is_admin)

    @property
    def owner_id(self) -> uuid.UUID | None:
        return None if self.account is None else self.account.id

    def may_see(self, owner_id: uuid.UUID | None, demo: bool) -> bool:
        """Whether a (non-demo route's) job with this owner is this caller's to see."""
        if demo:
            return False
        return self.sees_everything or (owner_id is not None and owner_id == self.owner_id)

    def visible(self) -> Visible:
        return EVERYONES if self.sees_everything else Visible(owner_id=self.owner_id)

    def require_account(self) -> Account:
        if self.account is None:
            raise AuthenticationError("sign in first: send Authorization: Bearer <token>")
        return self.account


async def current_caller(request: Request) -> Caller:
    """The caller of this request; 401 for a bad token, or none where accounts are on."""
    state = request.app.state
    auth_on: bool = state.settings.auth_on
    token, from_cookie = presented_token(request)
    if token is None:
        if auth_on:
            raise AuthenticationError("sign in first: send Authorization: Bearer <token>")
        return Caller(None, auth_on=False)
    account = await run_in_threadpool(_account_of, state.store, token, state.signing_key)
    if account is None:
        raise AuthenticationError("the token is invalid, expired or revoked")
    if from_cookie and request.method not in SAFE_METHODS:
        # An HMAC, no I/O: the key was read with the account, on the pool thread above.
        _check_csrf(request, token, state.signing_key)
    return Caller(account, auth_on=auth_on)


async def optional_caller(request: Request) -> Caller:
    """As `current_caller`, but no credentials is no error: for routes open to all."""
    token, _ = presented_token(request)
    if token is None:
        return Caller(None, auth_on=request.app.state.settings.auth_on)
    return await current_caller(request)


def presented_token(request: Request) -> tuple[str | None, bool]:
    """The request's token, and whether it came in the session cookie (else a Bearer
    header, which wins when both are sent)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def _check_csrf(request: Request, session_token: str, key: credentials.SigningKey) -> None:
    """A cookie-signed unsafe request must send its session's CSRF token in a header: the
    dashboard's script reads it from the CSRF cookie, which another site's page cannot,
    and a cookie planted by anyone else (a sibling subdomain) holds no token of this
    session, which only the key makes."""
    if not credentials.csrf_matches(request.headers.get(CSRF_HEADER), session_token, key=key()):
        raise AuthenticationError("missing or wrong X-CSRF-Token for a cookie session")


def _account_of(store: Store, token: str, key: credentials.SigningKey) -> Account | None:
    if not token.startswith(credentials.API_TOKEN_PREFIX):
        key()  # before the read session: the first call may write the key
    with store.reader() as session:
        if token.startswith(credentials.API_TOKEN_PREFIX):
            return account_for_token(session, token_hash=credentials.token_hash(token))
        claims = credentials.session_of_access_token(token, key=key())
        if claims is None:
            return None
        return account_of_session(
            session,
            user_id=claims.user_id,
            session_id=claims.session_id,
            generation=claims.generation,
        )


CallerDep = Annotated[Caller, Depends(current_caller)]
OptionalCallerDep = Annotated[Caller, Depends(optional_caller)]
