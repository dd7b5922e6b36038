"""Accounts: register, sign in (a token, or the dashboard's cookie session), sign out,
change the password, who am I, and API tokens.

Sign-in is rate limited per account and per client IP, register per client IP, each
attempt counted before any password is hashed (`rate_limits.py`). Signing out ends that
session, and a password change every session of the account, at once: the token is
refused from then on, as a cookie and as a Bearer token (`store/accounts.py`).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from chunkwise.api.accounts import credentials
from chunkwise.api.accounts.caller import CSRF_COOKIE, SESSION_COOKIE, CallerDep, presented_token
from chunkwise.api.accounts.rate_limits import RateLimits
from chunkwise.api.deps import SettingsDep, StoreDep
from chunkwise.errors import AuthenticationError, EmailTakenError, InvalidJobError, JobNotFoundError
from chunkwise.schemas import ErrorBody
from chunkwise.store import Store
from chunkwise.store import accounts as account_rows
from chunkwise.store.accounts import Account

router = APIRouter(prefix="/api/auth", tags=["auth"])
LOGIN_PATH = "/api/auth/login"
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=LOGIN_PATH, auto_error=False)
"""Declares the Bearer scheme in OpenAPI, so /docs can sign in with the login form."""
BearerDep = Annotated[str | None, Depends(oauth2_scheme)]

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
WRONG_CREDENTIALS = "wrong email or password"
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid request"},
    401: {"model": ErrorBody, "description": "No valid credentials"},
}
THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorBody,
        "description": "Too many attempts (CHUNKWISE_LOGIN_RATE_LIMIT per account, "
        "CHUNKWISE_LOGIN_IP_RATE_LIMIT per address, CHUNKWISE_REGISTER_RATE_LIMIT): retry "
        "after the Retry-After header's seconds",
        "headers": {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        },
    }
}


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(pattern=EMAIL_PATTERN, max_length=320)
    password: str = Field(min_length=8, max_length=256)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


class AccountView(BaseModel):
    id: uuid.UUID
    email: str
    is_admin: bool
    created_at: datetime


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds the token is valid for.")


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)


class TokenView(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime


class NewToken(TokenView):
    token: str = Field(description="The token itself: shown this once, kept only as a hash.")


def _view(account: Account) -> AccountView:
    return AccountView(
        id=account.id,
        email=account.email,
        is_admin=account.is_admin,
        created_at=account.created_at,
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses={409: ERRORS[400], **THROTTLED},
)
def register(body: Credentials, request: Request, store: StoreDep) -> AccountView:
    """Create an account; the first one is an admin, who sees every job."""
    _limits(request).hit_register(request)
    password_hash = credentials.hash_password(body.password)
    try:
        with store.writer() as session:
            account = account_rows.create_user(
                session, email=body.email.lower(), password_hash=password_hash
            )
    except IntegrityError:
        raise EmailTakenError(f"an account with {body.email.lower()} exists") from None
    return _view(account)


@router.post(
    "/login",
    responses={**ERRORS, **THROTTLED},
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": Credentials.model_json_schema()},
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "username": {"type": "string"},
                            "password": {"type": "string"},
                        },
                        "required": ["username", "password"],
                    }
                },
            },
            "required": True,
        }
    },
)
async def login(request: Request, settings: SettingsDep) -> AccessToken:
    """Sign in with `{"email", "password"}`, or the OAuth2 password form (username is the
    email): a short-lived access token. A wrong password and an unknown email get the
    same 401, in the same time."""
    given = await _credentials_of(request)
    account = await run_in_threadpool(_sign_in, request, given)
    key: str = await run_in_threadpool(request.app.state.signing_key)
    token = _new_session(account, key, settings.access_token_ttl_s)
    return AccessToken(access_token=token, expires_in=settings.access_token_ttl_s)


@router.post("/session", responses={**ERRORS, **THROTTLED})
async def open_session(request: Request, response: Response, settings: SettingsDep) -> AccountView:
    """Sign the dashboard in: the access token goes in an HttpOnly cookie, with a CSRF
    cookie holding this session's CSRF token, which unsafe requests must send in
    X-CSRF-Token."""
    given = await _credentials_of(request)
    account = await run_in_threadpool(_sign_in, request, given)
    key: str = await run_in_threadpool(request.app.state.signing_key)
    token = _new_session(account, key, settings.access_token_ttl_s)
    secure = request.url.scheme == "https"
    common: dict[str, Any] = {
        "max_age": settings.access_token_ttl_s,
        "secure": secure,
        "samesite": "lax",
        "path": "/",
    }
    response.set_cookie(SESSION_COOKIE, token, httponly=True, **common)
    csrf = credentials.csrf_token(token, key=key)
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, **common)
    return _view(account)


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
def close_session(request: Request, response: Response, store: StoreDep) -> Response:
    """Sign out: the session of the access token sent (the dashboard's cookie, or a Bearer
    token) ends now, and its token is refused from then on. API tokens are revoked at
    DELETE /api/auth/tokens/{id}."""
    token, _ = presented_token(request)
    key: str = request.app.state.signing_key()
    claims = None if token is None else credentials.session_of_access_token(token, key=key)
    if claims is not None:
        with store.writer() as session:
            account_rows.end_session(
                session, session_id=claims.session_id, expires_at=claims.expires_at
            )
    return _signed_out(response)


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**ERRORS, **THROTTLED},
)
def change_password(
    body: PasswordChange,
    request: Request,
    response: Response,
    caller: CallerDep,
    store: StoreDep,
    _bearer: BearerDep = None,
) -> Response:
    """Change your password. Every session of the account ends, this one included: sign
    in again with the new password. API tokens stay valid (revoke them at /api/auth/tokens).
    A wrong current password is a 400, and costs a sign-in attempt."""
    account = caller.require_account()
    _limits(request).hit_login(request, account.email)
    with store.reader() as session:
        found = account_rows.password_hash_of(session, email=account.email)
    if not credentials.password_matches(body.current_password, found[1] if found else None):
        raise InvalidJobError(
            "current_password: not the account's password", field="current_password"
        )
    password_hash = credentials.hash_password(body.new_password)
    with store.writer() as session:
        account_rows.change_password(session, user_id=account.id, password_hash=password_hash)
    return _signed_out(response)


def _signed_out(response: Response) -> Response:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    response.status_code = status.HTTP_204_NO_CONTENT
    return response


@router.get("/me", responses=ERRORS)
def me(caller: CallerDep, _bearer: BearerDep = None) -> AccountView:
    """The signed-in account."""
    return _view(caller.require_account())


@router.post("/tokens", status_code=status.HTTP_201_CREATED, responses=ERRORS)
def create_token(
    body: TokenCreate, caller: CallerDep, store: StoreDep, _bearer: BearerDep = None
) -> NewToken:
    """A new API token for scripts; the token is in this answer only."""
    account = caller.require_account()
    token = credentials.new_api_token()
    with store.writer() as session:
        info = account_rows.add_token(
            session, user_id=account.id, name=body.name, token_hash=credentials.token_hash(token)
        )
    return NewToken(id=info.id, name=info.name, created_at=info.created_at, token=token)


@router.get("/tokens", responses=ERRORS)
def list_tokens(caller: CallerDep, store: StoreDep, _bearer: BearerDep = None) -> list[TokenView]:
    """Your API tokens, without their secrets."""
    account = caller.require_account()
    with store.reader() as session:
        tokens = account_rows.list_tokens(session, user_id=account.id)
    return [TokenView(id=t.id, name=t.name, created_at=t.created_at) for t in tokens]


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**ERRORS, 404: {"model": ErrorBody, "description": "No such token"}},
)
def revoke_token(
    token_id: uuid.UUID, caller: CallerDep, store: StoreDep, _bearer: BearerDep = None
) -> Response:
    """Revoke an API token: its next use is a 401."""
    account = caller.require_account()
    with store.writer() as session:
        revoked = account_rows.revoke_token(session, user_id=account.id, token_id=token_id)
    if not revoked:
        raise JobNotFoundError(f"no token with id {token_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _credentials_of(request: Request) -> Credentials:
    """The email and password from a JSON body or an OAuth2 password form."""
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            raw: Any = {"email": form.get("username"), "password": form.get("password")}
        else:
            raw = json.loads(await request.body() or b"null")
        return Credentials.model_validate(raw)
    except (ValueError, ValidationError):
        raise InvalidJobError(
            'send {"email", "password"} as JSON, or the OAuth2 password form', field="body"
        ) from None


def _limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


def _sign_in(request: Request, given: Credentials) -> Account:
    """The account, if the password is right; the attempt counts against the limits first."""
    _limits(request).hit_login(request, given.email)
    return _check_password(request.app.state.store, given)


def _new_session(account: Account, key: str, ttl_s: int) -> str:
    return credentials.access_token(
        account.id, generation=account.session_generation, key=key, ttl_s=ttl_s
    )


def _check_password(store: Store, given: Credentials) -> Account:
    with store.reader() as session:
        found = account_rows.password_hash_of(session, email=given.email.lower())
    account, stored = found if found is not None else (None, None)
    if not credentials.password_matches(given.password, stored) or account is None:
        raise AuthenticationError(WRONG_CREDENTIALS)
    return account
