"""One attempt at delivering a completion webhook: sign the body, POST it to a checked
address, and say how it went.

The body is signed with HMAC-SHA256 under CHUNKWISE_WEBHOOK_SECRET; the receiver computes
the same over the raw bytes it got and compares (docs/webhooks.md). Only a 2xx answer
counts as delivered. A redirect is not followed (it could point anywhere, the metadata
service included): it counts as a failed attempt naming where it pointed.

A callback URL's query may carry the receiver's token, so no URL reaches a log line
whole: the attempt's errors name it redacted, and httpx's own "HTTP Request" line, which
the worker logs at INFO, is redacted by a filter on its logger.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass

import httpx

from chunkwise import __version__
from chunkwise.engine.webhook_targets import (
    ForbiddenCallbackError,
    checked_addresses,
    parse_callback_url,
    redacted,
)

SIGNATURE_HEADER = "X-Chunkwise-Signature"
DELIVERY_HEADER = "X-Chunkwise-Delivery"
ATTEMPT_HEADER = "X-Chunkwise-Attempt"
EVENT_HEADER = "X-Chunkwise-Event"
EVENT = "job.ended"
MAX_ERROR_CHARS = 500


class RedactedUrls(logging.Filter):
    """Redacts the URLs in httpx's log records (`webhook_targets.redacted`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redacted(str(arg)) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


REDACTED_URLS = RedactedUrls()
logging.getLogger("httpx").addFilter(REDACTED_URLS)  # once: addFilter skips one it holds


@functools.cache
def _client(timeout_s: float) -> httpx.Client:
    """One client per process: building one (its TLS context) costs about 100 ms. Made in
    the pool process that first sends, never before the fork. trust_env off: a proxy from
    the environment would resolve the name itself, past the address check."""
    return httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False)


def signature(secret: str, body: bytes) -> str:
    """The X-Chunkwise-Signature value of `body`: `sha256=<hex HMAC-SHA256>`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True)
class AttemptResult:
    delivered: bool
    status_code: int | None
    error: str | None
    duration_ms: float


@dataclass(frozen=True)
class WebhookSender:
    """Makes attempts with this deployment's secret, timeout and address policy."""

    secret: str
    timeout_s: float
    allow_private: bool

    def attempt(self, *, url: str, body: bytes, delivery_id: str, number: int) -> AttemptResult:
        started = time.perf_counter()

        def result(status: int | None, error: str | None) -> AttemptResult:
            elapsed = (time.perf_counter() - started) * 1000
            bounded = None if error is None else error[:MAX_ERROR_CHARS]
            return AttemptResult(error is None, status, bounded, elapsed)

        try:
            target = parse_callback_url(url)
            addresses = checked_addresses(target, allow_private=self.allow_private)
        except ForbiddenCallbackError as exc:
            return result(None, f"refused: {exc}")
        except OSError as exc:
            return result(None, f"cannot resolve {redacted(url)!r}: {exc}")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"chunkwise-webhooks/{__version__}",
            "Host": target.host_header,
            SIGNATURE_HEADER: signature(self.secret, body),
            DELIVERY_HEADER: delivery_id,
            ATTEMPT_HEADER: str(number),
            EVENT_HEADER: EVENT,
        }
        client = _client(self.timeout_s)
        error = "no address to send to"
        for address in addresses:
            try:
                # Streamed and closed unread: the answer's status is all that counts, and
                # a receiver's body, however large, is never loaded.
                with client.stream(
                    "POST",
                    target.url_for(address),
                    content=body,
                    headers=headers,
                    extensions={"sni_hostname": target.host},
                ) as response:
                    status, location = response.status_code, response.headers.get("Location")
                    redirect = response.is_redirect
            except httpx.TimeoutException:
                return result(None, f"no answer within {self.timeout_s:g} s")
            except httpx.HTTPError as exc:
                error = f"cannot connect to {address}: {exc or type(exc).__name__}"
                continue
            if 200 <= status < 300:
                return result(status, None)
            if redirect:
                return result(status, f"redirect to {redacted(location or '')!r} not followed")
            return result(status, f"HTTP {status}")
        return result(None, error)
