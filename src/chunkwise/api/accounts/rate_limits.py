"""Rate limits, with the `limits` library: per client IP on the demo endpoints; per user
on job creation (per client IP for a caller without an account where accounts are on);
per account and per client IP on sign-in, counted before the password is hashed, and per
client IP on registration. Counts live in memory for one API process, or on the broker's
Redis server when several API processes must share them.

The client's IP is the socket's peer, or the last address X-Forwarded-For adds before a
trusted proxy when the peer is one (TRUSTED_PROXIES, addresses or CIDR ranges, since a
proxy in a container has no fixed address): a client cannot pick its own IP by sending
the header.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Iterable

import redis.exceptions
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request

from chunkwise.config import Settings
from chunkwise.errors import AdmissionRefusedError, ServiceUnavailableError

COUNT_STORE_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
)
"""What reading the counts raises while their store (a Redis server) is away."""


class RateLimits:
    """The deployment's rate limits and where their counts are kept."""

    def __init__(self, settings: Settings) -> None:
        self.demo = parse(settings.demo_rate_limit)
        self.jobs = parse(settings.job_rate_limit)
        self.login_per_account = parse(settings.login_rate_limit)
        self.login_per_ip = parse(settings.login_ip_rate_limit)
        self.register_per_ip = parse(settings.register_rate_limit)
        self.limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage_url))
        self.trusted_proxies = TrustedProxies(settings.trusted_proxies)

    def hit_demo(self, request: Request) -> None:
        self._hit(self.demo, "demo", client_ip(request, self.trusted_proxies), "from your address")

    def hit_jobs(self, who: str) -> None:
        self._hit(self.jobs, "jobs", who, "for you")

    def hit_login(self, request: Request, email: str) -> None:
        """Count one attempt to sign in to `email` (or to prove its password): first
        against the client's address, then against the account, whether or not it exists.
        Called before the password is checked, so a refused guess costs no hash."""
        ip = client_ip(request, self.trusted_proxies)
        self._hit(self.login_per_ip, "login-ip", ip, "of sign-ins from your address")
        self._hit(self.login_per_account, "login", _email_key(email), "of sign-ins to this account")

    def hit_register(self, request: Request) -> None:
        ip = client_ip(request, self.trusted_proxies)
        self._hit(self.register_per_ip, "register", ip, "of new accounts from your address")

    def _hit(self, item: RateLimitItem, namespace: str, who: str, whose: str) -> None:
        try:
            if self.limiter.hit(item, "chunkwise", namespace, who):
                return
            stats = self.limiter.get_window_stats(item, "chunkwise", namespace, who)
        except COUNT_STORE_ERRORS as exc:
            # The counts live on the broker's Redis: while it restarts, a 503 the client
            # may retry, not a 500, and no request let through uncounted.
            raise ServiceUnavailableError(
                "the rate-limit counts cannot be read (their Redis does not answer); "
                "try again shortly"
            ) from exc
        reset_at = stats.reset_time
        wait_s = max(1, math.ceil(reset_at - time.time()))
        raise AdmissionRefusedError(
            f"rate limit reached: {item} {whose}; retry in {wait_s} s", retry_after_s=wait_s
        )


def _email_key(email: str) -> str:
    """An account's key in the counts: the address's hash, so a shared Redis holds none."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class TrustedProxies:
    """The proxies whose X-Forwarded-For is believed: `address in proxies`."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str) or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


def client_ip(request: Request, trusted_proxies: TrustedProxies) -> str:
    """The client's address: the peer's, or the one X-Forwarded-For gives before the
    trusted proxies, when the peer is one of them."""
    peer = request.client.host if request.client else "unknown"
    if peer not in trusted_proxies:
        return peer
    forwarded = [part.strip() for part in request.headers.get("x-forwarded-for", "").split(",")]
    for address in reversed([part for part in forwarded if part]):
        if address not in trusted_proxies and _is_ip(address):
            return address
    return peer


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
