"""`GET /` gives browsers the dashboard and every other client the JSON summary; the
dashboard's assets are served by the API itself."""

from __future__ import annotations

import pytest

from chunkwise.api.routes.dashboard import WEB_DIR, prefers_html
from tests.api.in_process import Api

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER_ACCEPT, True),
        ("text/html", True),
        ("*/*", False),
        ("", False),
        ("application/json", False),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0", False),
    ],
)
def test_only_a_client_that_prefers_html_gets_it(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html


def test_a_browser_gets_the_dashboard_and_curl_the_summary(api: Api) -> None:
    page = api.http.get("/", headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/ui/app.js">' in page.text
    summary = api.http.get("/", headers={"Accept": "*/*"})
    assert summary.json()["jobs"] == "/api/jobs"


@pytest.mark.parametrize("asset", ["app.js", "style.css", "index.html"])
def test_every_asset_is_served_from_the_package(api: Api, asset: str) -> None:
    response = api.http.get(f"/ui/{asset}")
    assert response.status_code == 200
    assert response.content == (WEB_DIR / asset).read_bytes()
    assert response.headers.get("etag")


def test_the_dashboard_names_no_outside_host() -> None:
    for asset in WEB_DIR.iterdir():
        text = asset.read_text()
        assert "http://" not in text and "https://" not in text, asset.name
