"""The Python client of the chunkwise API, on httpx: `Client` for ordinary code,
`AsyncClient` for asyncio; the CLI uses it for everything it asks the API.

    from chunkwise import Client

    with Client() as client:
        job = client.submit("prime_count", {"n": 10**7}, chunks=16)
        print(job.wait()["prime_count"])

Answers are decoded into the API's own models (`chunkwise.schemas`), and every error
answer is raised as an `ApiError` subclass named for its status. docs/client.md has more.
"""

from chunkwise.client.asynchronous import AsyncClient, AsyncJob
from chunkwise.client.errors import (
    ApiError,
    ApiUnreachable,
    ClientError,
    Conflict,
    Forbidden,
    InvalidRequest,
    JobCancelled,
    JobError,
    JobFailed,
    NotFound,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
)
from chunkwise.client.events import ChunkDone, JobEvent
from chunkwise.client.sync import Client, Job
from chunkwise.schemas import JobView, WorkloadKind

__all__ = [
    "ApiError",
    "ApiUnreachable",
    "AsyncClient",
    "AsyncJob",
    "ChunkDone",
    "Client",
    "ClientError",
    "Conflict",
    "Forbidden",
    "InvalidRequest",
    "Job",
    "JobCancelled",
    "JobError",
    "JobEvent",
    "JobFailed",
    "JobView",
    "NotFound",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
    "Unprocessable",
    "WorkloadKind",
]
