"""Settings for every chunkwise process, read from ``CHUNKWISE_*`` environment variables.

Settings are never built at import time: code asks :func:`get_settings` (cached) or takes a
``Settings`` argument, so tests and launchers can build their own.
"""

from __future__ import annotations

import ipaddress
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import AliasChoices, Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".chunkwise")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
"""Names of this machine that the API always answers to, unless ALLOWED_HOSTS says otherwise."""
HARD_TIME_LIMIT_MARGIN_S = 60.0
"""How long past its soft limit a chunk may clean up before its process is killed."""


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (so nothing else can reach the API)."""
    return host in LOCAL_HOSTS or host.startswith("127.")


class Settings(BaseSettings):
    """Everything a chunkwise process can be told from outside."""

    model_config = SettingsConfigDict(
        env_prefix="CHUNKWISE_", extra="ignore", populate_by_name=True
    )
    """populate_by_name: code passes fields by name; the environment by their aliases,
    which include the seed systems' names (CELERY_BROKER_URL, API_PORT, …)."""
    _environment: dict[str, str] = PrivateAttr(default_factory=lambda: _chunkwise_environment())

    # Where the parts are.
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
        validation_alias=AliasChoices("CHUNKWISE_BROKER_URL", "CELERY_BROKER_URL", "REDIS_URL"),
        description="Celery broker URL; empty: `chunkwise up` starts an embedded Redis server.",
    )
    broker_maxmemory: str = Field(
        default="256mb",
        pattern=r"(?i)^\d+([kmg]b?)?$",
        description="Embedded broker only (`chunkwise up`): its memory cap; when full, "
        "publishing fails (503).",
    )
    publish_timeout_s: float = Field(
        default=5.0,
        ge=1,  # not below kombu's BRPOP timeout, 1 s: a consumer's read may wait that long
        le=300,
        description="How long a submit waits for the broker to take its chunks before it "
        "answers 503 and keeps nothing; also each broker socket operation's timeout.",
    )
    visibility_timeout_s: int = Field(
        default=3600,
        ge=1,
        description="When the broker delivers an unacknowledged chunk again. Redis: the "
        "transport's visibility timeout. RabbitMQ: the chunk queue's consumer timeout "
        "(x-consumer-timeout, RabbitMQ 3.12 and later; older servers take `consumer_timeout` "
        "from rabbitmq.conf, 30 minutes by default, which must then be raised above the hard "
        "time limit of a chunk).",
    )
    chunk_queue: str = Field(
        default="chunkwise",
        pattern=r"^[A-Za-z0-9_.-]{1,200}$",
        description="The broker queue chunks travel on: deployments sharing one broker "
        "each need their own.",
    )

    # The HTTP API.
    api_host: str = Field(
        default="127.0.0.1",
        validation_alias=AliasChoices("CHUNKWISE_API_HOST", "API_HOST"),
    )
    api_port: int = Field(
        default=8000,
        ge=0,
        le=65535,
        validation_alias=AliasChoices("CHUNKWISE_API_PORT", "API_PORT", "DISPATCHER_PORT"),
    )
    api_url: str = Field(
        default="",
        description="Base URL the CLI talks to; empty means http://API_HOST:API_PORT.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000"],
        validation_alias=AliasChoices("CHUNKWISE_CORS_ORIGINS", "BACKEND_CORS_ORIGINS"),
        description="Comma-separated origins allowed by CORS.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated host names the API answers to (its Host header), `*` for "
        "any; empty means localhost, 127.0.0.1, ::1 and API_HOST (unless 0.0.0.0 or ::).",
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest request body.")
    max_json_depth: int = Field(
        default=32,
        ge=2,
        le=256,
        description="Deepest nesting of objects and arrays a JSON request body may have.",
    )
    progress_poll_interval_s: float = Field(
        default=0.05,
        gt=0,
        description="How often an API process reads the progress of the jobs its clients "
        "follow live (one read for all of them).",
    )
    sse_heartbeat_s: float = Field(
        default=15.0,
        gt=0,
        description="Seconds of quiet after which a live stream sends a keep-alive comment.",
    )
    health_probe_interval_s: float = Field(
        default=0.5, gt=0, description="How often the API probes the broker and the store."
    )
    finished_cache_entries: int = Field(
        default=1000,
        ge=0,
        description="Finished jobs whose answers an API process keeps in memory (they never "
        "change); least recently read go first, 0 keeps none.",
    )

    # Admission: what one job may ask for, and how much unfinished work the system takes.
    max_chunks: int = Field(default=128, ge=1, description="Largest chunk count a job may ask for.")
    max_active_jobs: int = Field(
        default=1000, ge=1, description="Unfinished jobs beyond which a new job is refused (429)."
    )
    max_active_jobs_per_user: int = Field(
        default=20, ge=1, description="Unfinished jobs one user may have (429 beyond)."
    )

    # Accounts, demo endpoints, rate limits.
    auth_enabled: bool | None = Field(
        default=None,
        description="Accounts and tokens required; unset: on unless the API binds to "
        "loopback only (a private install).",
    )
    allow_public_noauth: bool = Field(
        default=False,
        description="Let the API start with accounts off on a non-loopback address.",
    )
    token: str = Field(
        default="",
        description="The CLI's token (an API token or access token), instead of "
        "`chunkwise login`'s.",
    )
    jwt_secret: str = Field(
        default="",
        description="Key that signs access tokens; empty: made once and kept in the store, "
        "shared by every API replica.",
    )
    access_token_ttl_s: int = Field(
        default=3600, ge=60, description="Lifetime of an access token from login."
    )
    demo_limits: dict[str, int] = Field(
        default_factory=lambda: {"sum_range.n": 10_000, "prime_count.n": 10**7},
        description='The demo\'s kinds and their bounds, as {"kind.param": most}; '
        "a kind not named is not run by the demo.",
    )
    demo_max_chunks: int = Field(default=8, ge=1, description="Demo: chunks per job.")
    demo_rate_limit: str = Field(
        default="5/minute", description="Demo requests per client IP (the `limits` syntax)."
    )
    job_rate_limit: str = Field(
        default="30/minute", description="Job submissions per user (the `limits` syntax)."
    )
    login_rate_limit: str = Field(
        default="10/minute",
        description="Sign-in attempts per account, counted before the password is checked "
        "(the `limits` syntax).",
    )
    login_ip_rate_limit: str = Field(
        default="30/minute",
        description="Sign-in attempts per client IP, to any accounts (the `limits` syntax).",
    )
    register_rate_limit: str = Field(
        default="5/hour", description="New accounts per client IP (the `limits` syntax)."
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where rate-limit counts live: memory:// (one API process), `broker` "
        "(Redis brokers only: the broker's server, shared by every API process), or a "
        "redis:// URL (the way to share them with a RabbitMQ broker).",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Proxies whose X-Forwarded-For names the client: addresses or CIDR "
        "ranges (10.0.0.0/8), comma-separated. Nothing else may name a client.",
    )
    metrics_token: str = Field(
        default="",
        description="Bearer token that GET /metrics asks for; empty: /metrics answers any "
        "caller that reaches it (keep it off the public side, as deploy/nginx.conf does).",
    )
    compat_max_result_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest result a seed surface sends whole; beyond it, 413 and a link "
        "to the paged result.",
    )
    compat_anonymous: Annotated[list[Literal["000", "001", "002", "003", "004"]], NoDecode] = Field(
        default_factory=list,
        description="Seed surfaces served without a token where accounts are on, for "
        "clients that cannot sign in (comma-separated: 000,002,003,004); their jobs "
        "belong to one shared anonymous owner, under the per-IP job rate limit and "
        "that owner's quota (docs/compat.md).",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="json: one JSON object a log line, with the job id and chunk index "
        "on worker lines and a request id on API lines.",
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info",
        validation_alias=AliasChoices("CHUNKWISE_LOG_LEVEL", "LOG_LEVEL"),
        description="The API's and the workers' log level, when `--log-level` is not given.",
    )
    worker_concurrency: int | None = Field(
        default=None,
        ge=1,
        validation_alias=AliasChoices("CHUNKWISE_WORKER_CONCURRENCY", "CELERY_WORKER_CONCURRENCY"),
        description="Chunks a `chunkwise worker` computes at once when `--concurrency` is "
        "not given; empty: one per core.",
    )
    flower_basic_auth: str = Field(
        default="",
        validation_alias=AliasChoices("CHUNKWISE_FLOWER_BASIC_AUTH", "FLOWER_BASIC_AUTH"),
        description="user:password that `chunkwise flower` asks for; it refuses to start without.",
    )
    idempotency_ttl_s: int = Field(
        default=86_400, ge=60, description="How long an Idempotency-Key is remembered."
    )
    idempotency_claim_timeout_s: int = Field(
        default=30,
        ge=1,
        description="How long a request with an Idempotency-Key may go unanswered before "
        "a retry with the key takes it over (the API process handling it died).",
    )

    max_queued_chunks: int = Field(
        default=50_000,
        ge=1,
        description="Unrecorded chunks of unfinished jobs beyond which a new job is refused (429).",
    )
    admission_retry_after_s: int = Field(
        default=5, ge=1, description="The Retry-After (seconds) of a job refused for load."
    )

    # Workload kinds and the bounds on their parameters.
    extra_workloads: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated `module:Class` workload kinds to load beside the built-in "
        "ones and those installed packages declare (docs/workloads.md).",
    )
    live_kinds_cache_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="How long the API trusts its last read of the kinds live workers run: a "
        "kind from another package is offered only while a live worker runs it.",
    )
    workload_limit_overrides: dict[str, int] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("workload_limit_overrides", "CHUNKWISE_WORKLOAD_LIMITS"),
        description="Workload limits by name, as a JSON object in CHUNKWISE_WORKLOAD_LIMITS; "
        "each limit can also be set alone as CHUNKWISE_<NAME>. See `workload_limits()`.",
    )

    # Running a chunk.
    chunk_time_limit_s: float = Field(
        default=1800.0, gt=0, description="A chunk computing longer than this fails its job."
    )
    chunk_hard_time_limit_s: float | None = Field(
        default=None,
        gt=0,
        description="When a chunk's process is killed if it ignores its soft limit; empty "
        "means CHUNK_TIME_LIMIT_S + 60. It must stay below VISIBILITY_TIMEOUT_S.",
    )
    chunk_max_attempts: int = Field(
        default=5, ge=1, description="Attempts of a chunk that fails for a passing reason."
    )
    chunk_retry_backoff_s: float = Field(
        default=1.0, ge=0, description="First retry delay; it doubles per attempt, up to 60 s."
    )

    # The cache of computed pieces.
    cache_enabled: bool = Field(
        default=True, description="Reuse cached pieces of earlier jobs (prime_count blocks)."
    )
    cache_max_entries: int = Field(
        default=1_000_000, ge=0, description="Cached pieces kept; least recently used go first."
    )
    cache_evict_interval_s: float = Field(
        default=60.0, gt=0, description="How often a worker bounds the chunk cache."
    )

    # Worker leases and the store.
    worker_heartbeat_s: float = Field(
        default=1.0, gt=0, description="How often a worker renews its lease in the store."
    )
    worker_ttl_s: float = Field(
        default=3.0,
        gt=0,
        description="A worker silent for this long has lost its lease: its chunks go to others. "
        "At least twice WORKER_HEARTBEAT_S.",
    )
    worker_drain_s: float = Field(
        default=30.0,
        ge=0,
        description="On SIGTERM a worker takes no new chunk and finishes those it holds "
        "within this time; the rest go back to the queue at once, their start not counted. "
        "A stop grace period (compose, systemd, Kubernetes) must exceed it.",
    )
    store_outage_s: float = Field(
        default=300.0,
        ge=0,
        description="How long a worker keeps retrying the store (holding its chunk and its "
        "computed partial) before it gives the chunk back to the queue.",
    )

    # Completion webhooks.
    webhook_secret: str = Field(
        default="",
        description="The key that signs every webhook body (X-Chunkwise-Signature, HMAC-SHA256); "
        "empty: a key made once and kept in the store, shared by every worker "
        "(`chunkwise admin webhook-key` shows it, for receivers).",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Let callback URLs reach loopback and private addresses (a receiver on "
        "the same host or network). Link-local, multicast and cloud metadata addresses are "
        "refused always.",
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="How long one delivery attempt waits for an answer."
    )
    webhook_max_attempts: int = Field(
        default=12, ge=1, le=100, description="Attempts of a delivery before it is given up."
    )
    webhook_retry_base_s: float = Field(
        default=30.0,
        gt=0,
        description="Wait before the second attempt; it doubles per attempt, up to "
        "WEBHOOK_RETRY_MAX_S.",
    )
    webhook_retry_max_s: float = Field(
        default=6 * 3600.0, gt=0, description="The longest wait between two attempts."
    )
    webhook_retry_window_s: float = Field(
        default=24 * 3600.0,
        gt=0,
        description="No attempt is made later than this after the job ended: the delivery "
        "is given up then.",
    )
    webhook_sweep_s: float = Field(
        default=1.0,
        gt=0,
        description="How often a worker looks for ended jobs to announce and attempts due.",
    )

    # Retention of finished jobs.
    result_ttl_s: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="How long a finished job and its result are kept before they expire.",
    )
    retention_sweep_interval_s: float = Field(
        default=300.0, gt=0, description="How often a worker removes expired jobs."
    )

    @field_validator(
        "cors_origins",
        "extra_workloads",
        "allowed_hosts",
        "trusted_proxies",
        "compat_anonymous",
        mode="before",
    )
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        """A comma-separated list, or a JSON array (how the seeds wrote BACKEND_CORS_ORIGINS)."""
        if isinstance(value, str) and value.strip().startswith("["):
            return json.loads(value)
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: Any) -> Any:
        """Log levels as uvicorn names them, from Celery's (INFO) and logging's other names
        (WARN, FATAL), which a seed's LOG_LEVEL may use."""
        if not isinstance(value, str):
            return value
        level = value.strip().lower()
        return {"warn": "warning", "fatal": "critical", "trace": "debug"}.get(level, level)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        """Each as a network (an address as its /32 or /128); refuse at start what is
        neither an address nor a CIDR range (a host name, a typo)."""
        networks = []
        for entry in value:
            try:
                networks.append(str(ipaddress.ip_network(entry, strict=False)))
            except ValueError:
                raise ValueError(
                    f"CHUNKWISE_TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR range"
                ) from None
        return networks

    @field_validator("database_url")
    @classmethod
    def _use_psycopg(cls, value: str) -> str:
        """Point bare PostgreSQL URLs at psycopg 3, the driver chunkwise installs."""
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @model_validator(mode="after")
    def _limits_agree(self) -> Self:
        """Refuse limits that contradict each other, rather than misbehave under load."""
        hard_s = self.resolved_chunk_hard_time_limit_s
        if hard_s <= self.chunk_time_limit_s:
            raise ValueError(
                f"CHUNKWISE_CHUNK_HARD_TIME_LIMIT_S ({hard_s:g} s) must be above "
                f"CHUNKWISE_CHUNK_TIME_LIMIT_S ({self.chunk_time_limit_s:g} s)"
            )
        if hard_s >= self.visibility_timeout_s:
            raise ValueError(
                f"the hard time limit of a chunk ({hard_s:g} s: CHUNKWISE_CHUNK_HARD_TIME_LIMIT_S, "
                f"or CHUNKWISE_CHUNK_TIME_LIMIT_S + {HARD_TIME_LIMIT_MARGIN_S:g}) must be below "
                f"CHUNKWISE_VISIBILITY_TIMEOUT_S ({self.visibility_timeout_s} s), or the broker "
                "delivers a chunk again while it is still computing"
            )
        if self.worker_ttl_s < 2 * self.worker_heartbeat_s:
            raise ValueError(
                f"CHUNKWISE_WORKER_TTL_S ({self.worker_ttl_s:g} s) must be at least twice "
                f"CHUNKWISE_WORKER_HEARTBEAT_S ({self.worker_heartbeat_s:g} s), or one late "
                "beat loses a live worker its lease"
            )
        if self.max_chunks > self.max_queued_chunks:
            raise ValueError(
                f"CHUNKWISE_MAX_CHUNKS ({self.max_chunks}) must not exceed "
                f"CHUNKWISE_MAX_QUEUED_CHUNKS ({self.max_queued_chunks}), or a job of "
                "MAX_CHUNKS chunks could never be admitted"
            )
        return self

    @property
    def resolved_chunk_hard_time_limit_s(self) -> float:
        """When a chunk's process is killed: the setting, or the soft limit plus a margin."""
        if self.chunk_hard_time_limit_s is not None:
            return self.chunk_hard_time_limit_s
        return self.chunk_time_limit_s + HARD_TIME_LIMIT_MARGIN_S

    @property
    def trusted_hosts(self) -> list[str]:
        """Host names the API answers to, IPv6 literals in brackets as Host headers carry them."""
        hosts = self.allowed_hosts or [*LOCAL_HOSTS, self.api_host]
        if not self.allowed_hosts and self.api_host in ("0.0.0.0", "::"):
            hosts = list(LOCAL_HOSTS)  # every address: no one name is the API's own
        return list(dict.fromkeys(_as_host_header(host) for host in hosts))

    @property
    def resolved_database_url(self) -> str:
        """The store URL, defaulting to a SQLite file inside ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'chunkwise.db').resolve()}"

    @property
    def auth_on(self) -> bool:
        """Whether accounts are required: AUTH_ENABLED, or by default unless the API binds
        to loopback only."""
        if self.auth_enabled is not None:
            return self.auth_enabled
        return not is_loopback(self.api_host)

    @property
    def rate_limit_storage_url(self) -> str:
        """The `limits` storage URL; `broker` means the Redis server the broker runs on."""
        if self.rate_limit_storage != "broker":
            return self.rate_limit_storage
        if not self.broker_url.startswith(("redis://", "rediss://")):
            raise ValueError("CHUNKWISE_RATE_LIMIT_STORAGE=broker needs a Redis broker URL")
        return self.broker_url

    @property
    def resolved_api_url(self) -> str:
        """The API base URL the CLI uses."""
        if self.api_url:
            return self.api_url.rstrip("/")
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host
        return f"http://{host}:{self.api_port}"

    def workload_limits(self) -> dict[str, int]:
        """Bounds handed to workload parameter validation as pydantic context.

        Each registered kind declares its limits (name, default, meaning), so settings
        name none of them. A limit's value is, first found: `workload_limit_overrides`,
        the variable CHUNKWISE_<NAME>, the declared default. Raises ValueError for a value
        that is not an integer at or above the limit's minimum, or an unknown name.
        """
        # Imported here: workloads load numpy and pydantic models, and every process,
        # the `up` supervisor included, imports this module.
        from chunkwise.workloads import declared_limits

        declared = declared_limits()
        unknown = sorted(set(self.workload_limit_overrides) - set(declared))
        if unknown:
            known = ", ".join(sorted(declared))
            raise ValueError(f"unknown workload limit(s) {', '.join(unknown)}; known: {known}")
        limits: dict[str, int] = {}
        for name, limit in declared.items():
            variable = f"CHUNKWISE_{name.upper()}"
            raw = self.workload_limit_overrides.get(name, self._environment.get(variable))
            if raw is None and name in SEED_LIMIT_NAMES:
                raw = os.environ.get(SEED_LIMIT_NAMES[name])
            limits[name] = _limit_value(variable, raw, default=limit.default, minimum=limit.minimum)
        return limits


def _as_host_header(host: str) -> str:
    bare = host.strip().lower()
    return f"[{bare}]" if ":" in bare and not bare.startswith("[") else bare


SEED_LIMIT_NAMES = {"prime_list_max_end": "PRIMES_MAX_LIMIT"}
"""The seed systems' names for a workload limit, read when the CHUNKWISE_ one is unset."""


def _chunkwise_environment() -> dict[str, str]:
    """The CHUNKWISE_* variables (names upper-cased), kept for the workload limits, whose
    names settings do not know until the kinds are registered."""
    return {
        name.upper(): value
        for name, value in os.environ.items()
        if name.upper().startswith("CHUNKWISE_")
    }


def _limit_value(variable: str, raw: int | str | None, *, default: int, minimum: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ValueError(f"{variable} must be an integer >= {minimum}, not {raw!r}")
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return Settings()
