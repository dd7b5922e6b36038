"""Seed 003's `GET /stats` counts every user's tasks and names the live workers: where
accounts are on it needs a signed-in caller, as `GET /api/stats` does; with accounts off
(a private install) anyone on it may read it."""

from __future__ import annotations

from tests.api.in_process import ServeInProcess

PASSWORD = "correct horse battery staple"


def test_the_seed_stats_need_a_caller_where_accounts_are_on(serve: ServeInProcess) -> None:
    with serve(auth_enabled=True) as api:
        anonymous = api.http.get("/stats")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        given = {"email": "ada@example.com", "password": PASSWORD}
        assert api.http.post("/api/auth/register", json=given).status_code == 201
        token = api.http.post("/api/auth/login", json=given).json()["access_token"]
        signed = api.http.get("/stats", headers={"Authorization": f"Bearer {token}"})
        assert signed.status_code == 200 and signed.json()["status"] == "success"


def test_with_accounts_off_the_seed_stats_answer_anyone(serve: ServeInProcess) -> None:
    with serve(auth_enabled=False) as api:
        assert api.http.get("/stats").status_code == 200
