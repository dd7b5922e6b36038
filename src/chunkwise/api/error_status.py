"""The HTTP status of each error chunkwise raises: one table, for the global handler and
for the seed surfaces that shape their own error bodies."""

from __future__ import annotations

from chunkwise.errors import (
    AdmissionRefusedError,
    AuthenticationError,
    ChunkwiseError,
    EmailTakenError,
    IdempotencyConflictError,
    IdempotencyMismatchError,
    InvalidJobError,
    JobConflictError,
    JobNotFoundError,
    ServiceUnavailableError,
)

STATUS_BY_ERROR: list[tuple[type[ChunkwiseError], int]] = [
    (InvalidJobError, 400),
    (AuthenticationError, 401),
    (EmailTakenError, 409),
    (IdempotencyConflictError, 409),
    (IdempotencyMismatchError, 422),
    (JobNotFoundError, 404),
    (JobConflictError, 409),
    (AdmissionRefusedError, 429),
    (ServiceUnavailableError, 503),
]


def http_status(exc: ChunkwiseError) -> int:
    return next(code for kind, code in STATUS_BY_ERROR if isinstance(exc, kind))
