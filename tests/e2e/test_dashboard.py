"""The dashboard, driven in a browser against a live system: Try it, a job watched to
its result, an invalid job, a cancelled job, a job's webhook attempts, History filtered
by kind; each view photographed at desktop and phone widths."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot
from tests.live import LiveSystem
from tests.webhooks.receiver import receiving

pytestmark = pytest.mark.integration


def test_try_it_shows_live_progress_then_500500(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("#health")).to_have_class(re.compile(r"\bok\b"))
    page.get_by_role("button", name="Run sum of 1..1000").click()
    expect(page.locator("#try-result")).to_have_text("500,500")
    expect(page.locator("#try-chunks")).to_have_text("4/4 chunks")
    expect(page.locator("#try-bar")).to_have_attribute("aria-valuenow", "100")
    screenshot(page, "dashboard-desktop")


def test_a_job_is_watched_to_its_result_with_a_full_chunk_map(page: Page) -> None:
    page.goto("/#/new")
    page.get_by_label("Kind").select_option("prime_count")
    page.locator("#p-n").fill("1000000000")
    page.get_by_label("Chunks").fill("16")
    page.get_by_role("button", name="Submit job").click()
    expect(page).to_have_url(re.compile(r"#/job/[0-9a-f-]{36}$"))
    expect(page.locator("#job-badge .badge")).to_have_attribute("data-state", "SUCCESS")
    expect(page.locator("#job-bar")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#job-chunks")).to_have_text("16/16 chunks")
    expect(page.get_by_role("button", name="Cancel job")).to_be_hidden()
    expect(page.locator('[data-key="prime_count"]')).to_have_text("50,847,534")
    expect(page.locator("#chunkmap .cell.done")).to_have_count(16)
    assert "worker" in (page.locator("#chunkmap .cell").first.get_attribute("title") or "")
    screenshot(page, "job-desktop")


def test_an_invalid_job_shows_the_apis_message_beside_the_field(page: Page) -> None:
    page.goto("/#/new")
    page.get_by_label("Kind").select_option("sum_range")
    page.locator("#p-a").fill("50")
    page.locator("#p-n").fill("10")
    page.get_by_role("button", name="Submit job").click()
    error = page.locator('[id="err-params.n"]')
    expect(error).to_contain_text("should be greater than or equal to a (50)")
    expect(page.locator("#p-n")).to_have_attribute("aria-invalid", "true")
    page.locator("#p-n").fill("10")
    page.get_by_label("Chunks").fill("100000")
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator("#err-chunks")).to_contain_text("between 1 and")
    screenshot(page, "new-job-desktop")


def test_a_long_job_is_cancelled_from_its_page(page: Page, system: LiveSystem) -> None:
    body = {
        "kind": "prime_list",
        "params": {"start": 1, "end": 30_000_000, "algorithm": "trial_division"},
        "chunks": 64,
    }
    job_id = system.http.post("/api/jobs", json=body, params={"cache": "false"}).json()["job_id"]
    page.goto(f"/#/job/{job_id}")
    expect(page.locator("#job-badge .badge")).to_have_attribute("data-state", re.compile("P"))
    page.get_by_role("button", name="Cancel job").click()
    expect(page.locator("#job-badge .badge")).to_have_attribute("data-state", "CANCELLED")
    expect(page.locator("#outcome")).to_contain_text("Cancelled after")
    assert system.job(job_id)["state"] == "CANCELLED"


def test_a_jobs_webhook_attempts_show_on_its_page(page: Page) -> None:
    page.goto("/#/new")
    page.get_by_label("Kind").select_option("sum_range")
    page.locator("#p-n").fill("1000")
    page.get_by_label("Chunks").fill("2")
    # An address a webhook may never go to is refused, beside the field
    page.get_by_label("Callback URL (optional)").fill("http://169.254.169.254/latest/meta-data")
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator("#err-callback_url")).to_contain_text("169.254.169.254")
    expect(page.locator("#callback_url")).to_have_attribute("aria-invalid", "true")
    with receiving([503, 200]) as receiver:
        page.get_by_label("Callback URL (optional)").fill(receiver.url)
        page.get_by_role("button", name="Submit job").click()
        expect(page).to_have_url(re.compile(r"#/job/[0-9a-f-]{36}$"))
        expect(page.locator("#webhook")).to_contain_text(receiver.url)
        expect(page.locator("#webhook-state")).to_have_attribute("data-state", "delivered")
    rows = page.get_by_role("table", name="Webhook attempts").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("HTTP 503")
    expect(rows.nth(1)).to_contain_text("delivered")
    screenshot(page, "job-webhook-desktop")


def test_history_finds_the_job_filtered_by_kind(page: Page, system: LiveSystem) -> None:
    job_id = system.submit("monte_carlo", {"amount": 1000, "rate": 0.05, "paths": 2000}, chunks=2)
    assert system.wait_finished(job_id)["state"] == "SUCCESS"
    page.goto("/#/history")
    page.get_by_label("Kind").select_option("monte_carlo")
    expect(page).to_have_url(re.compile(r"kind=monte_carlo"))
    row = page.locator(f'tr[data-job="{job_id}"]')
    expect(row).to_be_visible()
    expect(page.locator("#rows tr a", has_text="sum_range")).to_have_count(0)
    screenshot(page, "history-desktop")


def test_workers_are_listed(page: Page) -> None:
    page.goto("/#/workers")
    expect(page.locator("#workers tr")).to_have_count(2)
    expect(page.locator("#workers")).to_contain_text("worker1@test")
    screenshot(page, "workers-desktop")


def test_every_view_fits_a_phone(phone_page: Page, system: LiveSystem) -> None:
    job_id = system.submit("prime_count", {"n": 100_000_000}, chunks=12)
    assert system.wait_finished(job_id)["state"] == "SUCCESS"
    views = [("dashboard", "/"), ("new-job", "/#/new"), ("history", "/#/history")]
    for name, path in [*views, ("workers", "/#/workers"), ("job", f"/#/job/{job_id}")]:
        phone_page.goto(path)
        expect(phone_page.locator("main h1")).to_be_visible()
        if name == "job":
            expect(phone_page.locator('[data-key="prime_count"]')).to_have_text("5,761,455")
        width = phone_page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name} is {width}px wide on a 390px phone"
        screenshot(phone_page, f"{name}-phone")


def test_an_unreachable_api_is_said_plainly(page: Page, system: LiveSystem) -> None:
    page.goto("/")
    expect(page.locator("#health")).to_have_class(re.compile(r"\bok\b"))
    page.route("**/health", lambda route, request: route.abort())
    page.route("**/api/**", lambda route, request: route.abort())
    expect(page.locator("#offline")).to_be_visible(timeout=15_000)
    expect(page.locator("#health")).to_have_class(re.compile(r"\bdown\b"), timeout=15_000)
