"""Where a completion webhook may be sent: the guard against server-side request forgery.

A callback URL is chosen by whoever submits a job, and the POST leaves from a worker
inside the deployment's network. Unchecked, a job could make a worker call the cloud
metadata service (and send its credentials back in the job's webhook record), or any
internal service. So:

- only `http` and `https` URLs, without user:password, are accepted;
- the host is resolved when each request is made, every address it resolves to is
  checked, and the request goes to a checked address (the name is not resolved again by
  the HTTP client, so a DNS answer that changes in between cannot slip past);
- link-local (which holds 169.254.169.254), multicast, unspecified, reserved and the
  cloud metadata addresses are refused always; loopback, private and other non-global
  addresses unless CHUNKWISE_WEBHOOK_ALLOW_PRIVATE;
- redirects are not followed (see `webhook_sender`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "169.254.170.2",  # AWS ECS task credentials
    )
)
SCHEMES = {"http": 80, "https": 443}


class ForbiddenCallbackError(ValueError):
    """A callback URL, or an address its host resolves to, that webhooks may not reach."""


@dataclass(frozen=True)
class CallbackTarget:
    """A callback URL taken apart: what the request needs to go to a checked address."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    """Path and query, as sent in the request line."""

    @property
    def literal_address(self) -> IPAddress | None:
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None

    def url_for(self, address: IPAddress) -> str:
        """The URL with the host replaced by `address` (the Host header keeps the name)."""
        host = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = SCHEMES[self.scheme] == self.port
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if default else f"{host}:{self.port}"


def parse_callback_url(url: str) -> CallbackTarget:
    """The URL's parts; ForbiddenCallbackError if it is not an http(s) URL we may use."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ForbiddenCallbackError(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ForbiddenCallbackError("only http and https URLs are accepted")
    if not parts.hostname:
        raise ForbiddenCallbackError("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise ForbiddenCallbackError(
            "the URL may not carry user:password (it is shown with the job); "
            "verify the signature instead"
        )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return CallbackTarget(
        url=url,
        scheme=scheme,
        host=parts.hostname,
        port=port if port is not None else SCHEMES[scheme],
        path=path,
    )


def redacted(url: str) -> str:
    """The URL fit for a log line: without user:password, and with its query (which may
    carry a receiver's token) and fragment replaced by `?…`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<a malformed URL>"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    origin = f"{parts.scheme}://{netloc}" if parts.scheme or netloc else ""  # else relative
    hidden = "?…" if parts.query or parts.fragment else ""
    return f"{origin}{parts.path}{hidden}"


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """What kind of address webhooks may not reach `address` is ("a link-local address"),
    or None if they may reach it."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped, allow_private=allow_private)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified or (address.is_reserved and not address.is_loopback):
        return "not a routable address"  # (IPv6's reserved ::/8 holds ::1)
    if not allow_private and not address.is_global:
        what = "loopback" if address.is_loopback else "private"
        return f"a {what} address (CHUNKWISE_WEBHOOK_ALLOW_PRIVATE=true allows it)"
    return None


def resolve(target: CallbackTarget) -> list[IPAddress]:
    """Every address the target's host resolves to, in the resolver's order."""
    literal = target.literal_address
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def checked_addresses(target: CallbackTarget, *, allow_private: bool) -> list[IPAddress]:
    """The addresses to send to; ForbiddenCallbackError if any of them is refused (a
    name that resolves to a public and an internal address is refused whole), and
    OSError if the name does not resolve."""
    addresses = resolve(target)
    for address in addresses:
        reason = refusal(address, allow_private=allow_private)
        if reason is None:
            continue
        if target.literal_address is not None:
            raise ForbiddenCallbackError(f"{address} is {reason}")
        raise ForbiddenCallbackError(f"{target.host} resolves to {address}, {reason}")
    return addresses


def check_at_submit(url: str, *, allow_private: bool) -> CallbackTarget:
    """Refuse a callback URL that can never be delivered to, when the job is submitted.

    A host that does not resolve now is accepted: it may by the time the job ends, and
    each attempt checks again.
    """
    target = parse_callback_url(url)
    with contextlib.suppress(OSError):
        checked_addresses(target, allow_private=allow_private)
    return target
