"""The dashboard with accounts on: register, sign in, submit, see the job in the personal
history, make an API token and use it over HTTP, sign out."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DESKTOP, OffHostRequests, checked_page, screenshot
from tests.live import LiveSystem, live_system

pytestmark = pytest.mark.integration

EMAIL, PASSWORD = "ada@example.com", "correct horse battery staple"


@pytest.fixture(scope="module")
def accounts_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    root = tmp_path_factory.mktemp("e2e-accounts")
    with live_system(root, workers=1, extra_env={"CHUNKWISE_AUTH_ENABLED": "true"}) as live:
        yield live


@pytest.fixture
def page(browser: Browser, accounts_system: LiveSystem, offhost: OffHostRequests) -> Iterator[Page]:
    with checked_page(browser, accounts_system, offhost, DESKTOP) as page:
        yield page


def test_register_submit_history_token_and_sign_out(
    page: Page, accounts_system: LiveSystem
) -> None:
    page.goto("/#/history")
    expect(page).to_have_url(re.compile(r"#/signin$"))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    screenshot(page, "signin-desktop")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#who")).to_have_text(EMAIL)

    page.goto("/#/new")
    page.get_by_label("Kind").select_option("sum_range")
    page.locator("#p-n").fill("1000000")
    page.get_by_label("Chunks").fill("4")
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator("#job-badge .badge")).to_have_attribute("data-state", "SUCCESS")
    job_id = page.url.rsplit("/", 1)[-1]

    page.goto("/#/history")
    expect(page.locator(f'tr[data-job="{job_id}"]')).to_be_visible()
    expect(page.locator("#rows tr")).to_have_count(1)

    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Token name").fill("e2e")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#token-value")
    expect(token).to_have_text(re.compile(r"^cw_"))
    expect(page.locator("#token-curl")).to_contain_text("Authorization: Bearer cw_")
    screenshot(page, "tokens-desktop")
    headers = {"Authorization": f"Bearer {token.inner_text()}"}
    listed = httpx.get(f"{accounts_system.api_url}/api/jobs", headers=headers).json()
    assert [item["job_id"] for item in listed["items"]] == [job_id]

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"#/signin$"))
    expect(page.locator("#sign-in-link")).to_be_visible()
    page.goto("/#/history")
    expect(page).to_have_url(re.compile(r"#/signin$"))

    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#who")).to_have_text(EMAIL)
    page.goto("/#/history")
    expect(page.locator(f'tr[data-job="{job_id}"]')).to_be_visible()


def test_try_it_works_signed_out_through_the_demo(page: Page) -> None:
    page.goto("/")
    page.get_by_role("button", name="Run sum of 1..1000").click()
    expect(page.locator("#try-result")).to_have_text("500,500")
    expect(page.locator("#try-chunks")).to_have_text("4/4 chunks")
