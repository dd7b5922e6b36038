"""The README's sign-in, as written: `curl -d '{"email",…}'` labels its JSON body as a
form (application/x-www-form-urlencoded), and the login route, which also takes the
OAuth2 password form, reads such a body as the JSON it is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.in_process import Api, ServeInProcess

PASSWORD = "a long passphrase"
AS_CURL_SENDS_IT = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def accounts(serve: ServeInProcess) -> Iterator[Api]:
    with serve(auth_enabled=True) as api:
        body = f'{{"email":"ada@example.com","password":"{PASSWORD}"}}'
        registered = api.http.post("/api/auth/register", content=body, headers=AS_CURL_SENDS_IT)
        assert registered.status_code == 201, registered.text
        yield api


def test_a_json_body_labelled_as_a_form_signs_in(accounts: Api) -> None:
    body = f' {{"email":"ada@example.com","password":"{PASSWORD}"}}'

    response = accounts.http.post("/api/auth/login", content=body, headers=AS_CURL_SENDS_IT)

    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer"


def test_the_oauth2_form_still_signs_in(accounts: Api) -> None:
    form = {"username": "ada@example.com", "password": PASSWORD}

    response = accounts.http.post("/api/auth/login", data=form)

    assert response.status_code == 200, response.text


def test_a_form_with_a_wrong_password_is_still_refused(accounts: Api) -> None:
    form = {"username": "ada@example.com", "password": "not the passphrase"}

    response = accounts.http.post("/api/auth/login", data=form)

    assert response.status_code == 401
