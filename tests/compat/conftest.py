"""A live chunkwise with real workers for the seed surfaces, and the curl examples of
docs/compat.md, read from the document itself so the tests run exactly what it shows."""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.live import LiveSystem, live_system

COMPAT_DOC = Path(__file__).resolve().parents[2] / "docs" / "compat.md"
COMPAT_ENV = {
    "CHUNKWISE_DEMO_RATE_LIMIT": "1000/minute",
    "CHUNKWISE_COMPAT_MAX_RESULT_BYTES": str(1024 * 1024),
}
"""The demo's rate limit out of the way of tests that submit many demo jobs, and a result
cap that a range of a few million numbers passes (tests of the cap set it on purpose)."""


@pytest.fixture(scope="session")
def compat_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    with live_system(tmp_path_factory.mktemp("compat"), workers=2, extra_env=COMPAT_ENV) as live:
        yield live


@dataclass(frozen=True)
class CurlExample:
    """One `curl` command of the document, as a request."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None

    def send(self, base_url: str, job_id: str = "", token: str = "") -> httpx.Response:
        path = self.path.replace("JOB_ID", job_id)
        headers = {
            name: value.replace("YOUR_JWT_TOKEN", token).replace("YOUR_TOKEN", token)
            for name, value in self.headers.items()
        }
        content = None if self.body is None else self.body.encode()
        return httpx.request(
            self.method, base_url + path, headers=headers, content=content, timeout=30
        )


def access_token(live: LiveSystem) -> str:
    """A token of a newly registered account of `live`, for the examples that send one."""
    email, password = f"compat-{uuid.uuid4().hex[:8]}@example.com", "a long passphrase"
    account = {"email": email, "password": password}
    httpx.post(f"{live.api_url}/api/auth/register", json=account).raise_for_status()
    answer = httpx.post(f"{live.api_url}/api/auth/login", json=account)
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def curl_examples(section: str) -> list[CurlExample]:
    """The curl commands in `section` of docs/compat.md ("## <section>"), in order."""
    text = COMPAT_DOC.read_text()
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    blocks = text[start : end if end != -1 else None].split("```bash\n")[1:]
    return [parse_curl(block.split("```", 1)[0]) for block in blocks]


def parse_curl(command: str) -> CurlExample:
    words = shlex.split(command.replace("\\\n", " "))
    assert words[0] == "curl", command
    method, url, headers, body = "GET", "", {}, None
    words = words[1:]
    while words:
        word = words.pop(0)
        if word == "-X":
            method = words.pop(0)
        elif word == "-H":
            name, _, value = words.pop(0).partition(":")
            headers[name.strip()] = value.strip()
        elif word in ("-d", "--data"):
            body = words.pop(0)
            method = "POST" if method == "GET" else method
        elif word == "-i":
            continue
        else:
            url = word
    parts = urlsplit(url if "://" in url else f"http://{url}")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if body is not None and "Content-Type" not in headers:
        headers["Content-Type"] = "application/x-www-form-urlencoded"  # what curl -d sends
    return CurlExample(method, path, headers, body)
