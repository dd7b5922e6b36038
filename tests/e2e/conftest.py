"""The dashboard in headless Chromium against a live system with real workers.

Playwright for Python drives Debian's `chromium` through `executable_path`: Playwright's
own browser download is not used. Every request the page makes must stay on 127.0.0.1;
one that does not fails the test. Screenshots of each view, at a desktop and a phone
width, go to build/screenshots/ (see SCREENSHOTS).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    Page,
    Playwright,
    Request,
    Route,
    ViewportSize,
    sync_playwright,
)

from tests.live import LiveSystem, live_system

REPOSITORY = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(
    os.environ.get("CHUNKWISE_SCREENSHOTS_DIR") or REPOSITORY / "build" / "screenshots"
)
"""Where each run saves its screenshots: build/screenshots/ (not committed), or the folder
CHUNKWISE_SCREENSHOTS_DIR names; `make screenshots` refreshes the README's, in
docs/screenshots/."""
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
LOCAL_HOSTS = {"127.0.0.1"}


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One browser for the dashboard's tests, closed after them: Playwright's synchronous
    API keeps an asyncio loop marked running on this thread while it is open, which would
    make every later `asyncio.run` in the session fail."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("Debian's chromium is not installed (make test installs it where apt can)")
    with sync_playwright() as playwright:
        launched = _launch(playwright, executable)
        yield launched
        launched.close()


def _launch(playwright: Playwright, executable: str) -> Browser:
    return playwright.chromium.launch(
        executable_path=executable, headless=True, args=["--no-sandbox", "--disable-gpu"]
    )


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    with live_system(tmp_path_factory.mktemp("e2e"), workers=2) as live:
        yield live


class OffHostRequests(list[str]):
    """Requests the page made to anywhere but 127.0.0.1 (each one was refused)."""


@pytest.fixture
def offhost() -> OffHostRequests:
    return OffHostRequests()


def new_page(
    browser: Browser, system: LiveSystem, offhost: OffHostRequests, size: ViewportSize
) -> Page:
    context = browser.new_context(viewport=size, base_url=system.api_url, locale="en-US")
    page = context.new_page()

    def guard(route: Route, request: Request) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            offhost.append(request.url)
            route.abort()

    page.route("**/*", guard)
    page.set_default_timeout(30_000)
    return page


@contextmanager
def checked_page(
    browser: Browser, system: LiveSystem, offhost: OffHostRequests, size: ViewportSize
) -> Iterator[Page]:
    """A page of `system`; on leaving, closed, and the test fails if it went off-host."""
    page = new_page(browser, system, offhost, size)
    yield page
    page.context.close()
    assert not offhost, f"requests left 127.0.0.1: {offhost}"


@pytest.fixture
def page(browser: Browser, system: LiveSystem, offhost: OffHostRequests) -> Iterator[Page]:
    with checked_page(browser, system, offhost, DESKTOP) as page:
        yield page


@pytest.fixture
def phone_page(browser: Browser, system: LiveSystem, offhost: OffHostRequests) -> Iterator[Page]:
    with checked_page(browser, system, offhost, PHONE) as page:
        yield page


def screenshot(page: Page, name: str) -> None:
    """Save the page as docs/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
