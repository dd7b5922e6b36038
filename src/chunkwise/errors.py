"""The errors chunkwise raises, one tree, mapped to HTTP status codes in one API handler.

ChunkwiseError
 ├── InvalidJobError        400  a job request that cannot be run as asked
 ├── AuthenticationError    401  no valid credentials where they are needed
 ├── JobNotFoundError       404  no job with that id (or not the caller's)
 ├── JobConflictError       409  the job's state does not allow the change (e.g. it ended)
 ├── EmailTakenError        409  an account with that email exists
 ├── IdempotencyConflictError 409  the Idempotency-Key's first request is still running
 ├── IdempotencyMismatchError 422  the Idempotency-Key came with another body
 ├── AdmissionRefusedError  429  too much unfinished work, a quota or a rate limit
 ├── ServiceUnavailableError 503  a part the request needs does not answer
 │    ├── BrokerUnavailableError
 │    └── StoreUnavailableError
 │         └── StoreOutageError
 └── StoreSchemaError            the store was made by a newer release (stops a start)
"""

from __future__ import annotations


class ChunkwiseError(Exception):
    """Base of every error chunkwise raises on purpose."""


class InvalidJobError(ChunkwiseError):
    """Raised when a job request names an unknown kind or carries invalid parameters."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class JobNotFoundError(ChunkwiseError):
    """Raised when no job has the id asked for."""


class JobConflictError(ChunkwiseError):
    """Raised when a job's current state does not allow the change asked for."""


class AdmissionRefusedError(ChunkwiseError):
    """Raised when a new job would take the unfinished work past a configured bound."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AuthenticationError(ChunkwiseError):
    """Raised when a request carries no valid credentials where they are needed (401)."""


class EmailTakenError(ChunkwiseError):
    """Raised when an account is registered with an email that already has one (409)."""


class IdempotencyConflictError(ChunkwiseError):
    """Raised when a request reuses an Idempotency-Key still in use by another (409)."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class IdempotencyMismatchError(ChunkwiseError):
    """Raised when an Idempotency-Key comes back with another request body (422)."""


class TransientChunkError(ChunkwiseError):
    """Raised when a chunk failed for a passing reason (a lost connection) and may be retried."""


class KindElsewhereError(ChunkwiseError):
    """Raised when a worker received a chunk of a kind it did not load while a live worker
    runs that kind: the chunk goes back to the queue, its start not counted."""


class ServiceUnavailableError(ChunkwiseError):
    """Raised when a service the request needs (broker, store) does not answer."""


class BrokerUnavailableError(ServiceUnavailableError):
    """Raised when chunk messages cannot be published to the broker."""


class StoreUnavailableError(ServiceUnavailableError):
    """Raised when the job store cannot be reached."""


class StoreOutageError(StoreUnavailableError):
    """Raised when the job store stayed unreachable for longer than a worker waits for it."""


class StoreSchemaError(ChunkwiseError):
    """Raised at start-up when the store's schema revision is newer than this release's."""
