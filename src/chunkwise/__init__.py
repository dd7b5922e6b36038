"""chunkwise: distributed background computation with exact results and live progress.

`from chunkwise import Client` (or `AsyncClient`, `Job`, the client's errors) loads the
client on first use: `import chunkwise` stays light, for the workers that import it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chunkwise.client import (
        ApiError,
        AsyncClient,
        AsyncJob,
        Client,
        Job,
        JobCancelled,
        JobEvent,
        JobFailed,
    )

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "AsyncClient",
    "AsyncJob",
    "Client",
    "Job",
    "JobCancelled",
    "JobEvent",
    "JobFailed",
    "__version__",
]
"""The version, and what `chunkwise` gives of `chunkwise.client` (which has the rest)."""


def __getattr__(name: str) -> Any:
    """The client's names, imported on first use."""
    if name in __all__:
        return getattr(importlib.import_module("chunkwise.client"), name)
    raise AttributeError(f"module 'chunkwise' has no attribute {name!r}")
