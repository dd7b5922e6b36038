"""chunkwise: distributed background computation with exact results and live progress.

`from chunkwise import Client` (or `AsyncClient`, `Job`, the client's errors) loads the
client on first use: `import chunkwise` stays light, for the workers that import it.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any


def _installed_version() -> str:
    """The version pyproject.toml gives, the one place it is written, as installed."""
    try:
        return version("chunkwise")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


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

__version__ = _installed_version()

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
