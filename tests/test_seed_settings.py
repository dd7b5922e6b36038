"""The seed systems' configuration names are aliases of chunkwise's; CHUNKWISE_ ones win."""

from __future__ import annotations

import pytest

from chunkwise.config import Settings


@pytest.fixture
def seed_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("CHUNKWISE_BROKER_URL", "CHUNKWISE_API_HOST", "CHUNKWISE_API_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CHUNKWISE_CORS_ORIGINS", raising=False)
    monkeypatch.delenv("CHUNKWISE_PRIME_LIST_MAX_END", raising=False)
    return monkeypatch


def test_the_seed_names_set_chunkwise_settings(seed_env: pytest.MonkeyPatch) -> None:
    seed_env.setenv("CELERY_BROKER_URL", "redis://broker:6379/0")
    seed_env.setenv("API_HOST", "0.0.0.0")
    seed_env.setenv("DISPATCHER_PORT", "5000")
    seed_env.setenv("BACKEND_CORS_ORIGINS", '["http://localhost:3000","http://app.test"]')
    seed_env.setenv("PRIMES_MAX_LIMIT", "2000000")
    settings = Settings()
    assert settings.broker_url == "redis://broker:6379/0"
    assert (settings.api_host, settings.api_port) == ("0.0.0.0", 5000)
    assert settings.cors_origins == ["http://localhost:3000", "http://app.test"]
    assert settings.workload_limits()["prime_list_max_end"] == 2_000_000


def test_the_chunkwise_names_win(seed_env: pytest.MonkeyPatch) -> None:
    seed_env.setenv("CELERY_BROKER_URL", "redis://seed:6379/0")
    seed_env.setenv("CHUNKWISE_BROKER_URL", "redis://chunkwise:6379/0")
    seed_env.setenv("API_PORT", "9000")
    seed_env.setenv("CHUNKWISE_API_PORT", "8123")
    seed_env.setenv("PRIMES_MAX_LIMIT", "2000000")
    seed_env.setenv("CHUNKWISE_PRIME_LIST_MAX_END", "3000000")
    settings = Settings()
    assert settings.broker_url == "redis://chunkwise:6379/0" and settings.api_port == 8123
    assert settings.workload_limits()["prime_list_max_end"] == 3_000_000
