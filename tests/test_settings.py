"""Settings refuse limits that contradict each other, and derive what they leave unset."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chunkwise.config import Settings


def test_the_hard_time_limit_defaults_to_the_soft_one_plus_a_minute() -> None:
    settings = Settings(chunk_time_limit_s=100)
    assert settings.resolved_chunk_hard_time_limit_s == 160
    explicit = Settings(chunk_time_limit_s=100, chunk_hard_time_limit_s=500)
    assert explicit.resolved_chunk_hard_time_limit_s == 500


def test_the_defaults_keep_the_hard_limit_below_the_visibility_timeout() -> None:
    settings = Settings()
    assert settings.resolved_chunk_hard_time_limit_s < settings.visibility_timeout_s


@pytest.mark.parametrize(
    "fields",
    [
        {"visibility_timeout_s": 1800},  # derived hard limit 1860
        {"chunk_time_limit_s": 10, "chunk_hard_time_limit_s": 3600},
    ],
)
def test_a_hard_limit_at_or_past_the_visibility_timeout_is_refused(
    fields: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError, match="must be below CHUNKWISE_VISIBILITY_TIMEOUT_S"):
        Settings(**fields)


def test_a_hard_limit_below_the_soft_one_is_refused() -> None:
    with pytest.raises(ValidationError, match="must be above CHUNKWISE_CHUNK_TIME_LIMIT_S"):
        Settings(chunk_time_limit_s=100, chunk_hard_time_limit_s=50)


def test_max_chunks_must_fit_in_the_queued_chunk_bound() -> None:
    with pytest.raises(ValidationError, match="CHUNKWISE_MAX_QUEUED_CHUNKS"):
        Settings(max_chunks=200, max_queued_chunks=100)


@pytest.mark.parametrize(
    ("api_host", "allowed", "expected"),
    [
        ("127.0.0.1", "", ["localhost", "127.0.0.1", "[::1]"]),
        ("api.example", "", ["localhost", "127.0.0.1", "[::1]", "api.example"]),
        ("0.0.0.0", "", ["localhost", "127.0.0.1", "[::1]"]),
        ("::", "", ["localhost", "127.0.0.1", "[::1]"]),
        ("fe80::1", "", ["localhost", "127.0.0.1", "[::1]", "[fe80::1]"]),
        ("0.0.0.0", "Api.Example, 10.0.0.5,::1", ["api.example", "10.0.0.5", "[::1]"]),
        ("127.0.0.1", "*", ["*"]),
    ],
)
def test_trusted_hosts(api_host: str, allowed: str, expected: list[str]) -> None:
    settings = Settings(api_host=api_host, allowed_hosts=allowed)
    assert settings.trusted_hosts == expected


def test_the_broker_memory_cap_is_checked() -> None:
    assert Settings().broker_maxmemory == "256mb"
    with pytest.raises(ValidationError, match="broker_maxmemory"):
        Settings(broker_maxmemory="plenty")
