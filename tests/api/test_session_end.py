"""A session ends at once when it is signed out, when its password changes, and when an
admin revokes the account: its access token is refused from then on, as the dashboard's
cookie and as a Bearer token, on every API process (the store says which sessions are
open). And a CSRF token is good for its own session only."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from chunkwise.api.accounts.caller import CSRF_COOKIE, SESSION_COOKIE
from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.launcher import chunkwise_argv
from tests.api.conftest import accounts_on, api_process

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a new and longer passphrase"


@dataclass
class LiveApi:
    http: httpx.Client
    env: dict[str, str]
    """The environment that points a `chunkwise` command at this API's store."""

    def client(self, cookies: dict[str, str] | None = None) -> httpx.Client:
        """A client of its own (its own cookies), of the same API."""
        return httpx.Client(base_url=self.http.base_url, timeout=10, cookies=cookies)


@pytest.fixture(scope="module")
def api(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """`chunkwise api` in a process of its own, accounts on, any number of accounts."""
    settings, env = accounts_on(broker, tmp_path_factory.mktemp("sessions"))
    with api_process(settings, env) as http:
        yield LiveApi(http, env)


def registered(api: LiveApi) -> dict[str, str]:
    given = {"email": f"{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD}
    assert api.http.post("/api/auth/register", json=given).status_code == 201
    return given


def token_of(api: LiveApi, given: dict[str, str]) -> str:
    answer = api.http.post("/api/auth/login", json=given)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class CookieSession:
    token: str
    csrf: str


def cookie_session(http: httpx.Client, given: dict[str, str]) -> CookieSession:
    """Sign `http` in as the dashboard does; its session cookie's token and CSRF token."""
    assert http.post("/api/auth/session", json=given).status_code == 200
    return CookieSession(http.cookies[SESSION_COOKIE], http.cookies[CSRF_COOKIE])


def status_as_bearer(api: LiveApi, token: str) -> int:
    return api.http.get("/api/auth/me", headers=bearer(token)).status_code


def status_as_cookie(api: LiveApi, token: str) -> int:
    with api.client(cookies={SESSION_COOKIE: token}) as http:
        return http.get("/api/auth/me").status_code


def test_signing_out_ends_the_session_as_cookie_and_as_bearer(api: LiveApi) -> None:
    given = registered(api)
    with api.client() as dashboard:
        session = cookie_session(dashboard, given)
        assert status_as_cookie(api, session.token) == status_as_bearer(api, session.token) == 200
        signed_out = dashboard.delete("/api/auth/session", headers={"X-CSRF-Token": session.csrf})
        assert signed_out.status_code == 204
    assert status_as_cookie(api, session.token) == 401
    assert status_as_bearer(api, session.token) == 401


def test_a_bearer_sign_out_ends_that_session_only(api: LiveApi) -> None:
    given = registered(api)
    first, second = token_of(api, given), token_of(api, given)
    assert api.http.delete("/api/auth/session", headers=bearer(first)).status_code == 204
    assert status_as_bearer(api, first) == 401
    assert status_as_bearer(api, second) == 200


def test_a_password_change_ends_every_session_of_the_account(api: LiveApi) -> None:
    given, other = registered(api), registered(api)
    first, second, others = token_of(api, given), token_of(api, given), token_of(api, other)
    with api.client() as dashboard:
        session = cookie_session(dashboard, given)
        change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        changed = api.http.post("/api/auth/password", json=change, headers=bearer(first))
        assert changed.status_code == 204, changed.text
    for token in (first, second, session.token):
        assert status_as_bearer(api, token) == status_as_cookie(api, token) == 401
    assert status_as_bearer(api, others) == 200
    assert api.http.post("/api/auth/login", json=given).status_code == 401
    renewed = token_of(api, {**given, "password": NEW_PASSWORD})
    assert status_as_bearer(api, renewed) == 200


def test_a_password_change_needs_the_current_password(api: LiveApi) -> None:
    given = registered(api)
    token = token_of(api, given)
    change = {"current_password": "not the password", "new_password": NEW_PASSWORD}
    refused = api.http.post("/api/auth/password", json=change, headers=bearer(token))
    assert refused.status_code == 400 and refused.json()["field"] == "current_password"
    assert status_as_bearer(api, token) == 200
    assert token_of(api, given)  # the password is unchanged


def admin(api: LiveApi, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        chunkwise_argv("admin", *args),
        env={**os.environ, **api.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_admins_revoke_ends_every_session_and_api_token(api: LiveApi) -> None:
    given, other = registered(api), registered(api)
    token, others = token_of(api, given), token_of(api, other)
    made = api.http.post("/api/auth/tokens", json={"name": "ci"}, headers=bearer(token))
    api_token = made.json()["token"]
    assert status_as_bearer(api, api_token) == 200

    revoked = admin(api, "revoke", given["email"].upper())
    assert revoked.returncode == 0, revoked.stderr
    assert "1 API token" in revoked.stdout
    assert status_as_bearer(api, token) == status_as_cookie(api, token) == 401
    assert status_as_bearer(api, api_token) == 401
    assert status_as_bearer(api, others) == 200
    assert status_as_bearer(api, token_of(api, given)) == 200  # a new sign-in works


def test_revoking_an_unknown_account_says_so(api: LiveApi) -> None:
    revoked = admin(api, "revoke", "nobody@example.com")
    assert revoked.returncode != 0
    assert "no account with email nobody@example.com" in revoked.stderr


def test_a_csrf_token_is_good_for_its_own_session_only(api: LiveApi) -> None:
    ada, bob = registered(api), registered(api)
    with api.client() as theirs:
        bobs = cookie_session(theirs, bob)
    with api.client() as dashboard:
        adas = cookie_session(dashboard, ada)
    token = {"name": "x"}
    for planted in ("chosen-by-someone-else", bobs.csrf):
        # A CSRF cookie set from elsewhere (a sibling subdomain), and its echo: refused.
        with api.client(cookies={SESSION_COOKIE: adas.token, CSRF_COOKIE: planted}) as forged:
            refused = forged.post("/api/auth/tokens", json=token, headers={"X-CSRF-Token": planted})
            assert refused.status_code == 401, planted
    with api.client(cookies={SESSION_COOKIE: adas.token, CSRF_COOKIE: adas.csrf}) as own:
        made = own.post("/api/auth/tokens", json=token, headers={"X-CSRF-Token": adas.csrf})
        assert made.status_code == 201, made.text
