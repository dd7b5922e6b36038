"""The HTTP status of each error chunkwise raises: one table, for the global handler and
for the seed surfaces that shape their own error bodies.

Every class of `errors.py` has its own row (`tests/api/test_error_status.py` walks the
tree), so none reaches a client through a parent's row by accident. An error of a class
not in the table, one another package derives, takes its nearest ancestor's row; with none
it is `UNMAPPED_STATUS`.
"""

from __future__ import annotations

import logging

from chunkwise.errors import (
    AdmissionRefusedError,
    AuthenticationError,
    BrokerUnavailableError,
    ChunkwiseError,
    EmailTakenError,
    IdempotencyConflictError,
    IdempotencyMismatchError,
    InvalidJobError,
    JobConflictError,
    JobNotFoundError,
    KindElsewhereError,
    ServiceUnavailableError,
    StoreOutageError,
    StoreSchemaError,
    StoreUnavailableError,
    TransientChunkError,
)

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[ChunkwiseError], int] = {
    InvalidJobError: 400,
    AuthenticationError: 401,
    JobNotFoundError: 404,
    JobConflictError: 409,
    EmailTakenError: 409,
    IdempotencyConflictError: 409,
    IdempotencyMismatchError: 422,
    AdmissionRefusedError: 429,
    ServiceUnavailableError: 503,
    BrokerUnavailableError: 503,
    StoreUnavailableError: 503,
    StoreOutageError: 503,
    # Raised by workers and at start-up, not by requests: should one reach a client, the
    # service could not do the work for a reason of its own, which may pass. 503, not 500:
    # nothing is wrong with the request, and a retry may succeed.
    TransientChunkError: 503,
    KindElsewhereError: 503,
    StoreSchemaError: 503,
}

UNMAPPED_STATUS = 500
"""For an error no row covers. Not 400: chunkwise raised it and does not know that the
request was at fault, and a 400 tells a client not to retry. A 500 is what an operator's
alerts watch for, and the log line names the class to add to the table."""


def http_status(exc: ChunkwiseError) -> int:
    """The status of `exc`: its class's row, else its nearest ancestor's, else 500."""
    for kind in type(exc).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    log.error("no HTTP status for %s; answering %d", type(exc).__name__, UNMAPPED_STATUS)
    return UNMAPPED_STATUS
