"""Who is calling: resolved once per request from `Authorization: Bearer …` (an access
token or an API token) or the dashboard's session cookie, and what they may see.

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
from chunkwise.store.accounts import Account, account_for_token, get_account
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
    token, from_cookie = _presented_token(request)
    if token is None:
        if auth_on:
            raise AuthenticationError("sign in first: send Authorization: Bearer <token>")
        return Caller(None, auth_on=False)
    if from_cookie and request.method not in SAFE_METHODS:
        _check_csrf(request)
    account = await run_in_threadpool(_account_of, state.store, token, state.signing_key)
    if account is None:
        raise AuthenticationError("the token is invalid, expired or revoked")
    return Caller(account, auth_on=auth_on)


async def optional_caller(request: Request) -> Caller:
    """As `current_caller`, but no credentials is no error: for routes open to all."""
    token, _ = _presented_token(request)
    if token is None:
        return Caller(None, auth_on=request.app.state.settings.auth_on)
    return await current_caller(request)


def _presented_token(request: Request) -> tuple[str | None, bool]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def _check_csrf(request: Request) -> None:
    """A cookie-signed unsafe request must echo the CSRF cookie in a header, which only
    the dashboard's own script can read."""
    expected = request.cookies.get(CSRF_COOKIE)
    if not expected or request.headers.get(CSRF_HEADER) != expected:
        raise AuthenticationError("missing or wrong X-CSRF-Token for a cookie session")


def _account_of(store: Store, token: str, key: credentials.SigningKey) -> Account | None:
    if not token.startswith(credentials.API_TOKEN_PREFIX):
        key()  # before the read session: the first call may write the key
    with store.reader() as session:
        if token.startswith(credentials.API_TOKEN_PREFIX):
            return account_for_token(session, token_hash=credentials.token_hash(token))
        user_id = credentials.user_of_access_token(token, key=key())
        return None if user_id is None else get_account(session, user_id=user_id)


CallerDep = Annotated[Caller, Depends(current_caller)]
OptionalCallerDep = Annotated[Caller, Depends(optional_caller)]
