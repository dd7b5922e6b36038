"""numba, when it can be imported, with a writable on-disk cache for compiled kernels.

Kernels are compiled with `@njit(cache=True)`: a cold compile costs seconds per worker
process, a cache load a tenth of that. numba reads NUMBA_CACHE_DIR when it is first
imported and, by default, writes next to the source file, which is read-only in an
installed package; so unless the operator chose a directory, this module points numba at
a per-user cache directory before importing it.

When numba is missing, `NUMBA_AVAILABLE` is False, a warning is logged, and `njit`
returns functions unchanged, so callers pick their numpy fallbacks instead.
"""

from __future__ import annotations

import importlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

logger = logging.getLogger(__name__)


def _user_cache_dir() -> Path:
    """$XDG_CACHE_HOME/chunkwise/numba, else ~/.cache/chunkwise/numba."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chunkwise" / "numba"


def ensure_numba_cache_dir() -> None:
    """Set NUMBA_CACHE_DIR to a writable directory unless the environment already has one.

    Falls back to the system temporary directory when the home directory is read-only,
    as it is for some service users.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    candidates = [_user_cache_dir(), Path(tempfile.gettempdir()) / f"chunkwise-numba-{os.getuid()}"]
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            os.environ["NUMBA_CACHE_DIR"] = str(path)
            return


ensure_numba_cache_dir()

_numba: Any
try:
    _numba = importlib.import_module("numba")
except ImportError:  # pragma: no cover - exercised only where numba is not installed
    _numba = None
    logger.warning("numba cannot be imported: prime kernels fall back to numpy (2-20x slower)")

NUMBA_AVAILABLE: bool = _numba is not None


def njit(function: F) -> F:
    """Compile `function` with numba in nopython mode, cached on disk; unchanged without numba."""
    if _numba is None:  # pragma: no cover - see above
        return function
    compiled: F = _numba.njit(cache=True, nogil=True)(function)
    return compiled
