"""A callback URL's query can carry the receiver's token, so no log line and no recorded
error shows a callback URL whole: httpx's request line, a name that does not resolve and
a refused redirect all name it without its query (`webhook_targets.redacted`)."""

from __future__ import annotations

import logging

import pytest

from chunkwise.engine.webhook_sender import WebhookSender
from chunkwise.engine.webhook_targets import redacted
from tests.webhooks.receiver import receiving

SECRET = "t0ken-in-the-query"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"https://hooks.example/in?token={SECRET}", "https://hooks.example/in?…"),
        (f"http://me:{SECRET}@hooks.example:8080/in#{SECRET}", "http://hooks.example:8080/in?…"),
        (f"http://[::1]:9000/in?token={SECRET}", "http://[::1]:9000/in?…"),
        (f"/elsewhere?token={SECRET}", "/elsewhere?…"),
        ("https://hooks.example/in", "https://hooks.example/in"),
    ],
)
def test_a_url_is_logged_without_its_query_or_credentials(url: str, shown: str) -> None:
    assert redacted(url) == shown


def test_no_attempt_logs_or_records_the_callback_urls_query(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # httpcore's traces too: they name no request target
    sender = WebhookSender(secret="key", timeout_s=5.0, allow_private=True)
    moved_to = "http://hooks.example/moved?token=the-receivers-own"
    with receiving([200, 302], redirect_to=moved_to) as receiver:
        url = f"{receiver.url}&token={SECRET}"
        delivered = sender.attempt(url=url, body=b"{}", delivery_id="d", number=1)
        moved = sender.attempt(url=url, body=b"{}", delivery_id="d", number=2)
    unresolved_url = f"http://no-such-host.invalid/hook?token={SECRET}"
    unresolved = sender.attempt(url=unresolved_url, body=b"{}", delivery_id="d", number=3)
    assert delivered.delivered and receiver.received[0].path.endswith(f"token={SECRET}")
    assert "not followed" in (moved.error or "") and "cannot resolve" in (unresolved.error or "")
    assert "HTTP Request: POST http://127.0.0.1:" in caplog.text  # the line is still there
    for shown in (caplog.text, unresolved.error):
        assert SECRET not in (shown or "")
    assert "the-receivers-own" not in (moved.error or "")
