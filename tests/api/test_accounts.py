"""Accounts, tokens and who sees what, with accounts on (an in-process API)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from starlette.requests import Request

from chunkwise.api import create_app
from chunkwise.api.accounts import credentials
from chunkwise.api.accounts.rate_limits import TrustedProxies, client_ip
from chunkwise.api.app import PublicWithoutAccountsError
from chunkwise.config import Settings
from chunkwise.store import Job
from chunkwise.store.models import utcnow
from chunkwise.worker.housekeeping import Retention
from tests.api.in_process import Api, ServeInProcess

PASSWORD = "correct horse battery staple"


@pytest.fixture
def accounts(serve: ServeInProcess) -> Iterator[Api]:
    with serve(auth_enabled=True) as api:
        yield api


def register(api: Api, email: str, password: str = PASSWORD) -> dict[str, object]:
    response = api.http.post("/api/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def login(api: Api, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = api.http.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def submit(api: Api, headers: dict[str, str], n: int = 100) -> str:
    body = {"kind": "sum_range", "params": {"n": n}, "chunks": 2}
    response = api.http.post("/api/jobs", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def test_register_login_and_a_job_with_the_access_token_and_an_api_token(accounts: Api) -> None:
    first = register(accounts, "Ada@Example.com")
    assert first["email"] == "ada@example.com" and first["is_admin"] is True
    assert register(accounts, "bob@example.com")["is_admin"] is False
    headers = login(accounts, "ada@example.com")
    assert accounts.http.get("/api/auth/me", headers=headers).json()["email"] == "ada@example.com"

    job_id = submit(accounts, headers)
    made = accounts.http.post("/api/auth/tokens", json={"name": "ci"}, headers=headers).json()
    assert made["token"].startswith("cw_") and made["name"] == "ci"
    with_token = {"Authorization": f"Bearer {made['token']}"}
    assert accounts.http.get(f"/api/jobs/{job_id}", headers=with_token).status_code == 200
    submit(accounts, with_token)
    listed = accounts.http.get("/api/auth/tokens", headers=headers).json()
    assert [(t["id"], t["name"]) for t in listed] == [(made["id"], "ci")]
    assert "token" not in listed[0]


def test_the_oauth2_password_form_signs_in_too(accounts: Api) -> None:
    register(accounts, "ada@example.com")
    response = accounts.http.post(
        "/api/auth/login", data={"username": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer" and response.json()["expires_in"] > 0


def test_a_revoked_token_gets_401(accounts: Api) -> None:
    register(accounts, "ada@example.com")
    headers = login(accounts, "ada@example.com")
    made = accounts.http.post("/api/auth/tokens", json={"name": "x"}, headers=headers).json()
    with_token = {"Authorization": f"Bearer {made['token']}"}
    assert accounts.http.get("/api/jobs", headers=with_token).status_code == 200
    revoked = accounts.http.delete(f"/api/auth/tokens/{made['id']}", headers=headers)
    assert revoked.status_code == 204
    refused = accounts.http.get("/api/jobs", headers=with_token)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    again = accounts.http.delete(f"/api/auth/tokens/{made['id']}", headers=headers)
    assert again.status_code == 404


def test_without_credentials_every_job_route_is_401(accounts: Api) -> None:
    assert accounts.http.get("/api/jobs").status_code == 401
    body = {"kind": "sum_range", "params": {"n": 5}, "chunks": 1}
    assert accounts.http.post("/api/jobs", json=body).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert accounts.http.get("/api/jobs", headers=bad).status_code == 401


def test_a_login_made_on_one_replica_works_on_every_other(
    serve: ServeInProcess, tmp_path: Path
) -> None:
    # Replicas share the store and nothing else: each has a data dir of its own.
    replicas = [tmp_path / "replica-1", tmp_path / "replica-2", tmp_path / "replica-3"]
    with ExitStack() as stack:
        apis = [stack.enter_context(serve(auth_enabled=True, data_dir=d)) for d in replicas]
        register(apis[0], "shared@example.com")
        token = login(apis[0], "shared@example.com")
        answers = [api.http.get("/api/auth/me", headers=token).status_code for api in apis]
    assert answers == [200, 200, 200]
    assert not any(any(d.iterdir()) for d in replicas if d.exists())  # no key file in any


def test_the_monitoring_routes_need_a_caller_where_accounts_are_on(accounts: Api) -> None:
    for path in ("/api/workers", "/api/stats"):
        assert accounts.http.get(path).status_code == 401, path
    register(accounts, "watcher@example.com")
    signed_in = login(accounts, "watcher@example.com")
    for path in ("/api/workers", "/api/stats"):
        assert accounts.http.get(path, headers=signed_in).status_code == 200, path


def test_another_users_job_is_404_on_every_route_and_never_listed(accounts: Api) -> None:
    register(accounts, "admin@example.com")
    register(accounts, "a@example.com")
    register(accounts, "b@example.com")
    alice, bob = login(accounts, "a@example.com"), login(accounts, "b@example.com")
    admin = login(accounts, "admin@example.com")
    job_id = submit(accounts, alice)
    accounts.compute_published()
    missing = str(uuid.uuid4())

    for path in ("", "/result", "/result.txt", "/events", "/chunks"):
        theirs = accounts.http.get(f"/api/jobs/{job_id}{path}", headers=bob)
        nobodys = accounts.http.get(f"/api/jobs/{missing}{path}", headers=bob)
        assert theirs.status_code == nobodys.status_code == 404, path
        assert theirs.json()["detail"] == nobodys.json()["detail"].replace(missing, job_id)
    for cancel in (
        accounts.http.post(f"/api/jobs/{job_id}/cancel", headers=bob),
        accounts.http.delete(f"/api/jobs/{job_id}", headers=bob),
    ):
        assert cancel.status_code == 404
    assert accounts.http.get("/api/jobs", headers=bob).json()["total"] == 0
    mine = accounts.http.get("/api/jobs", headers=alice).json()
    assert [item["job_id"] for item in mine["items"]] == [job_id]
    assert accounts.http.get(f"/api/jobs/{job_id}", headers=alice).json()["state"] == "SUCCESS"
    assert accounts.http.get("/api/jobs", headers=admin).json()["total"] == 1


def test_a_wrong_password_and_an_unknown_email_get_the_same_401(accounts: Api) -> None:
    register(accounts, "ada@example.com")
    wrong = accounts.http.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": "not the password"}
    )
    unknown = accounts.http.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": "not the password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong email or password", "field": None}


def test_an_unknown_email_is_checked_against_a_hash_all_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked: list[str] = []
    verify = credentials._hasher.verify

    def counting(password: str, stored: str) -> bool:
        checked.append(stored)
        return verify(password, stored)

    monkeypatch.setattr(credentials._hasher, "verify", counting)
    assert credentials.password_matches("guess", None) is False
    assert checked == [credentials._DUMMY_HASH]


def test_the_same_email_twice_is_409(accounts: Api) -> None:
    register(accounts, "ada@example.com")
    again = accounts.http.post(
        "/api/auth/register", json={"email": "ADA@example.com", "password": PASSWORD}
    )
    assert again.status_code == 409


@pytest.mark.parametrize(
    "body",
    [{"email": "not-an-email", "password": PASSWORD}, {"email": "a@b.co", "password": "short"}],
)
def test_a_bad_registration_gets_400(accounts: Api, body: dict[str, str]) -> None:
    assert accounts.http.post("/api/auth/register", json=body).status_code == 400


def test_the_dashboard_session_is_an_httponly_cookie_with_a_csrf_check(accounts: Api) -> None:
    register(accounts, "ada@example.com")
    opened = accounts.http.post(
        "/api/auth/session", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert opened.status_code == 200
    cookies = opened.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("chunkwise_session="))
    assert "HttpOnly" in session and "SameSite=lax" in session
    csrf = accounts.http.cookies["chunkwise_csrf"]
    assert accounts.http.get("/api/jobs").status_code == 200  # the cookie signs reads
    body = {"kind": "sum_range", "params": {"n": 5}, "chunks": 1}
    assert accounts.http.post("/api/jobs", json=body).status_code == 401
    signed = accounts.http.post("/api/jobs", json=body, headers={"X-CSRF-Token": csrf})
    assert signed.status_code == 202
    accounts.http.delete("/api/auth/session", headers={"X-CSRF-Token": csrf})
    accounts.http.cookies.clear()
    assert accounts.http.get("/api/jobs").status_code == 401


def test_accounts_default_off_on_loopback_and_on_elsewhere(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path, api_host="127.0.0.1").auth_on is False
    assert Settings(data_dir=tmp_path, api_host="0.0.0.0").auth_on is True
    assert Settings(data_dir=tmp_path, api_host="0.0.0.0", auth_enabled=False).auth_on is False


def test_the_api_refuses_to_serve_others_with_accounts_off(tmp_path: Path) -> None:
    fields = {"data_dir": tmp_path, "broker_url": "memory://", "api_host": "0.0.0.0"}
    with pytest.raises(PublicWithoutAccountsError, match="ALLOW_PUBLIC_NOAUTH"):
        create_app(Settings(**fields, auth_enabled=False))  # type: ignore[arg-type]
    create_app(Settings(**fields, auth_enabled=False, allow_public_noauth=True))  # type: ignore[arg-type]


def test_every_answer_carries_the_security_headers(accounts: Api) -> None:
    for path in ("/", "/health", "/ui/app.js", "/api/jobs"):
        headers = accounts.http.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_secrets_never_reach_the_store_or_the_logs(
    accounts: Api, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level("DEBUG")
    register(accounts, "ada@example.com")
    headers = login(accounts, "ada@example.com")
    made = accounts.http.post("/api/auth/tokens", json={"name": "ci"}, headers=headers).json()
    submit(accounts, {"Authorization": f"Bearer {made['token']}"})
    accounts.http.post("/api/auth/login", json={"email": "ada@example.com", "password": "x" * 9})
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("api.db*"))
    assert len(stored) > 0
    for secret in (PASSWORD, made["token"]):
        assert secret.encode() not in stored
        assert secret not in caplog.text
    assert "x" * 9 not in caplog.text


def test_openapi_declares_the_bearer_login_for_the_docs_page(accounts: Api) -> None:
    schemes = accounts.http.get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/api/auth/login"


def test_another_users_expired_job_is_a_plain_404(serve: ServeInProcess) -> None:
    with serve(auth_enabled=True, result_ttl_s=86400) as api:
        register(api, "admin@example.com")
        register(api, "a@example.com")
        register(api, "b@example.com")
        alice, bob = login(api, "a@example.com"), login(api, "b@example.com")
        job_id = submit(api, alice)
        api.compute_published()
        with api.store.writer() as session:
            long_ago = utcnow() - timedelta(days=2)
            session.execute(
                update(Job).where(Job.id == uuid.UUID(job_id)).values(finished_at=long_ago)
            )
        assert Retention(api.store, result_ttl_s=86400).sweep() == 1
        owners = api.http.get(f"/api/jobs/{job_id}", headers=alice)
        strangers = api.http.get(f"/api/jobs/{job_id}", headers=bob)
    assert owners.status_code == strangers.status_code == 404
    assert "expired on" in owners.json()["detail"]
    assert strangers.json()["detail"] == f"no job with id {job_id}"


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not a proxy: the header is ignored
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client cannot pick
        ("10.0.0.2", "not-an-ip", "10.0.0.2"),
        ("172.18.0.7", "198.51.100.1", "198.51.100.1"),  # a proxy by its range
        ("172.18.0.7", "172.18.0.3, 198.51.100.1", "198.51.100.1"),
        ("172.32.0.7", "198.51.100.1", "172.32.0.7"),  # just outside the range
    ],
)
def test_the_client_ip_is_trusted_from_x_forwarded_for_only_behind_a_proxy(
    peer: str, forwarded: str, expected: str
) -> None:
    scope = {
        "type": "http",
        "client": (peer, 1234),
        "headers": [(b"x-forwarded-for", forwarded.encode())],
    }
    proxies = TrustedProxies(Settings(trusted_proxies="10.0.0.2,172.16.0.0/12").trusted_proxies)
    assert client_ip(Request(scope), proxies) == expected
