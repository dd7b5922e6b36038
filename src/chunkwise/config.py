"""Settings for every chunkwise process, read from ``CHUNKWISE_*`` environment variables.

Settings are never built at import time: code asks :func:`get_settings` (cached) or takes a
``Settings`` argument, so tests and launchers can build their own.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".chunkwise")


class Settings(BaseSettings):
    """Everything a chunkwise process can be told from outside."""

    model_config = SettingsConfigDict(env_prefix="CHUNKWISE_", extra="ignore")

    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="Where `chunkwise up` keeps its SQLite file, broker data and PID files.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the job store; empty means a SQLite file in data_dir.",
    )
    broker_url: str = Field(
        default="",
        description="Celery broker URL; empty: `chunkwise up` starts an embedded Redis server.",
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)
    api_url: str = Field(
        default="",
        description="Base URL the CLI talks to; empty means http://API_HOST:API_PORT.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000"],
        description="Comma-separated origins allowed by CORS.",
    )

    max_chunks: int = Field(default=128, ge=1, description="Largest chunk count a job may ask for.")
    prime_count_max_n: int = Field(
        default=10**13, ge=10_000, description="Largest n a prime_count job may ask for."
    )
    prime_list_max_end: int = Field(
        default=10**8, ge=1, description="Largest end of a prime_list job's range."
    )
    monte_carlo_max_paths: int = Field(
        default=10**8, ge=1, description="Most paths a monte_carlo job may simulate."
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest request body.")

    chunk_time_limit_s: float = Field(
        default=1800.0, gt=0, description="A chunk computing longer than this fails its job."
    )
    chunk_max_attempts: int = Field(
        default=5, ge=1, description="Attempts of a chunk that fails for a passing reason."
    )
    chunk_retry_backoff_s: float = Field(
        default=1.0, ge=0, description="First retry delay; it doubles per attempt, up to 60 s."
    )
    extra_workloads: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated `module:Class` workload kinds to load beside the built-in.",
    )

    cache_enabled: bool = Field(
        default=True, description="Reuse cached pieces of earlier jobs (prime_count blocks)."
    )
    cache_max_entries: int = Field(
        default=1_000_000, ge=0, description="Cached pieces kept; least recently used go first."
    )

    worker_heartbeat_s: float = Field(
        default=2.0, gt=0, description="How often a worker tells the store it is alive."
    )
    worker_ttl_s: float = Field(
        default=8.0, gt=0, description="A worker silent for this long is no longer counted live."
    )
    visibility_timeout_s: int = Field(
        default=3600,
        ge=1,
        description="Redis transport: when an unacknowledged chunk is redelivered.",
    )
    result_ttl_s: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="How long a finished job and its result are kept before they expire.",
    )
    retention_sweep_interval_s: float = Field(
        default=300.0, gt=0, description="How often a worker removes expired jobs."
    )

    @field_validator("cors_origins", "extra_workloads", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _use_psycopg(cls, value: str) -> str:
        """Point bare PostgreSQL URLs at psycopg 3, the driver chunkwise installs."""
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @property
    def resolved_database_url(self) -> str:
        """The store URL, defaulting to a SQLite file inside ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'chunkwise.db').resolve()}"

    @property
    def resolved_api_url(self) -> str:
        """The API base URL the CLI uses."""
        if self.api_url:
            return self.api_url.rstrip("/")
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host
        return f"http://{host}:{self.api_port}"

    def workload_limits(self) -> dict[str, int]:
        """Bounds handed to workload parameter validation as pydantic context."""
        return {
            "prime_count_max_n": self.prime_count_max_n,
            "prime_list_max_end": self.prime_list_max_end,
            "monte_carlo_max_paths": self.monte_carlo_max_paths,
        }


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return Settings()
