"""Sign-in and registration are rate limited (`rate_limits.py`): sign-in per account and
per client IP, over /api/auth/login and /api/auth/session together; registration per
client IP; each refused with 429 and Retry-After, and counted before any password is
hashed, so a refused guess costs the service no Argon2 hash."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chunkwise.api.accounts import credentials
from chunkwise.embedded_broker import EmbeddedBroker
from tests.api.conftest import accounts_on, api_process
from tests.api.in_process import ServeInProcess

PASSWORD = "correct horse battery staple"
PER_ACCOUNT, PER_IP, REGISTRATIONS = 3, 8, 2
_addresses = itertools.count(1)


@pytest.fixture(scope="module")
def http(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    """`chunkwise api` in its own process, accounts on, with small sign-in limits; it
    trusts 127.0.0.1 as a proxy, so each test names client addresses of its own."""
    settings, env = accounts_on(
        broker,
        tmp_path_factory.mktemp("sign-in"),
        CHUNKWISE_LOGIN_RATE_LIMIT=f"{PER_ACCOUNT}/minute",
        CHUNKWISE_LOGIN_IP_RATE_LIMIT=f"{PER_IP}/minute",
        CHUNKWISE_REGISTER_RATE_LIMIT=f"{REGISTRATIONS}/minute",
        CHUNKWISE_TRUSTED_PROXIES="127.0.0.1",
    )
    with api_process(settings, env) as client:
        yield client


def address() -> dict[str, str]:
    """A client address no other test uses, as the trusted proxy would name it."""
    return {"X-Forwarded-For": f"2001:db8::{next(_addresses):x}"}


def account(http: httpx.Client) -> dict[str, str]:
    """A new account (registered from an address of its own)."""
    given = {"email": f"{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD}
    assert http.post("/api/auth/register", json=given, headers=address()).status_code == 201
    return given


def sign_in(
    http: httpx.Client, given: dict[str, str], client: dict[str, str], *, path: str = "login"
) -> httpx.Response:
    return http.post(f"/api/auth/{path}", json=given, headers=client)


def assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert "rate limit" in response.json()["detail"]


@pytest.mark.integration
def test_sign_in_attempts_are_limited_per_account(http: httpx.Client) -> None:
    ada, client = account(http), address()
    wrong = {**ada, "password": "not the password"}
    assert [sign_in(http, wrong, client).status_code for _ in range(PER_ACCOUNT)] == [401] * 3
    assert_throttled(sign_in(http, ada, client))  # even the right password, for a while
    assert_throttled(sign_in(http, ada, client, path="session"))  # one count for both
    assert_throttled(sign_in(http, ada, address()))  # from any address
    assert sign_in(http, account(http), client).status_code == 200  # other accounts may


@pytest.mark.integration
def test_sign_in_attempts_are_limited_per_address(http: httpx.Client) -> None:
    client = address()
    strangers = [
        {"email": f"{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD}
        for _ in range(PER_IP + 1)
    ]
    codes = [sign_in(http, given, client).status_code for given in strangers[:PER_IP]]
    assert codes == [401] * PER_IP  # unknown accounts count as known ones do
    assert_throttled(sign_in(http, strangers[-1], client))
    assert sign_in(http, account(http), address()).status_code == 200  # other addresses may


@pytest.mark.integration
def test_registration_is_limited_per_address(http: httpx.Client) -> None:
    client = address()
    new = [
        {"email": f"{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD}
        for _ in range(REGISTRATIONS + 1)
    ]
    codes = [
        http.post("/api/auth/register", json=given, headers=client).status_code
        for given in new[:REGISTRATIONS]
    ]
    assert codes == [201] * REGISTRATIONS
    assert_throttled(http.post("/api/auth/register", json=new[-1], headers=client))
    assert http.post("/api/auth/register", json=new[-1], headers=address()).status_code == 201


def test_a_refused_attempt_costs_no_password_hash(
    serve: ServeInProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []

    def counted(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            hashed.append(name)
            return real(*args, **kwargs)

        return call

    with serve(
        auth_enabled=True, login_rate_limit="2/minute", register_rate_limit="1/minute"
    ) as api:
        given = {"email": "ada@example.com", "password": PASSWORD}
        monkeypatch.setattr(
            credentials, "hash_password", counted("hash", credentials.hash_password)
        )
        monkeypatch.setattr(
            credentials, "password_matches", counted("verify", credentials.password_matches)
        )
        assert api.http.post("/api/auth/register", json=given).status_code == 201
        other = {"email": "bob@example.com", "password": PASSWORD}
        assert api.http.post("/api/auth/register", json=other).status_code == 429
        wrong = {**given, "password": "not the password"}
        codes = [api.http.post("/api/auth/login", json=wrong).status_code for _ in range(4)]
    assert codes == [401, 401, 429, 429]
    assert hashed == ["hash", "verify", "verify"]
