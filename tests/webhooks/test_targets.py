"""Where webhooks may go: only http(s), and never to link-local, multicast or metadata
addresses; loopback and private ones only when the deployment allows them."""

from __future__ import annotations

import ipaddress

import pytest

from chunkwise.engine.webhook_targets import (
    ForbiddenCallbackError,
    check_at_submit,
    parse_callback_url,
    refusal,
)

ALWAYS_REFUSED = [
    "169.254.169.254",  # the metadata service
    "169.254.10.1",  # link-local
    "fe80::1",
    "fd00:ec2::254",
    "100.100.100.200",
    "224.0.0.1",  # multicast
    "ff02::1",
    "0.0.0.0",
    "::",
    "240.0.0.1",  # reserved
    "::ffff:169.254.169.254",  # the metadata service, IPv4-mapped
]
PRIVATE = ["127.0.0.1", "::1", "10.1.2.3", "192.168.0.10", "172.16.5.4", "fc00::1", "100.64.0.1"]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"]


@pytest.mark.parametrize("address", ALWAYS_REFUSED)
@pytest.mark.parametrize("allow_private", [False, True])
def test_link_local_multicast_and_metadata_addresses_are_refused_always(
    address: str, allow_private: bool
) -> None:
    assert refusal(ipaddress.ip_address(address), allow_private=allow_private) is not None


@pytest.mark.parametrize("address", PRIVATE)
def test_loopback_and_private_addresses_only_when_allowed(address: str) -> None:
    ip = ipaddress.ip_address(address)
    reason = refusal(ip, allow_private=False)
    assert reason is not None and "CHUNKWISE_WEBHOOK_ALLOW_PRIVATE" in reason
    assert refusal(ip, allow_private=True) is None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), allow_private=False) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hook", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "only http and https"),
        ("http:///path", "no host"),
        ("https://user:secret@example.com/hook", "user:password"),
        ("http://example.com:99999/", "not a valid URL"),
    ],
)
def test_only_plain_http_and_https_urls_are_accepted(url: str, message: str) -> None:
    with pytest.raises(ForbiddenCallbackError, match=message):
        parse_callback_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/",  # 169.254.169.254, IPv4-mapped
        "http://localhost:8080/hook",  # resolves to loopback
        "http://127.0.0.1/hook",
    ],
)
def test_submit_refuses_a_url_whose_address_is_refused(url: str) -> None:
    with pytest.raises(ForbiddenCallbackError):
        check_at_submit(url, allow_private=False)


def test_submit_accepts_a_name_that_does_not_resolve_yet() -> None:
    target = check_at_submit("https://hooks.invalid/chunkwise", allow_private=False)
    assert (target.host, target.port, target.path) == ("hooks.invalid", 443, "/chunkwise")


def test_the_request_goes_to_the_checked_address_with_the_name_in_the_host_header() -> None:
    target = parse_callback_url("https://Hooks.Example.com:8443/in?a=1")
    assert (
        target.url_for(ipaddress.ip_address("2001:db8::5")) == "https://[2001:db8::5]:8443/in?a=1"
    )
    assert target.host_header == "hooks.example.com:8443"
    default_port = parse_callback_url("http://hooks.example.com/in")
    assert (default_port.port, default_port.host_header) == (80, "hooks.example.com")
