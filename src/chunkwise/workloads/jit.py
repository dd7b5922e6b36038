"""numba, when it can be imported, with a private on-disk cache for compiled kernels.

Kernels are compiled with `@njit(cache=True)`: a cold compile costs seconds per worker
process, a cache load a tenth of that. numba reads NUMBA_CACHE_DIR when it is first
imported and, by default, writes next to the source file, which is read-only in an
installed package; so unless the operator chose a directory, this module points numba at
a per-user cache directory before importing it.

numba loads what it finds in its cache as code, so a cache directory someone else can
write to would let them run code in every worker. A directory is used only if it is ours,
not a symlink, and closed to other users: not writable by them under the home directory,
not even readable in the shared temporary directory (where anyone may have created the
name first). Without such a directory, kernels are compiled in every process, uncached.

When numba is missing, `NUMBA_AVAILABLE` is False, a warning is logged, and `njit`
returns functions unchanged, so callers pick their numpy fallbacks instead.
"""

from __future__ import annotations

import importlib
import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

logger = logging.getLogger(__name__)

PRIVATE_MODE = 0o700
NOT_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH
NOTHING_FOR_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def _user_cache_dir() -> Path:
    """$XDG_CACHE_HOME/chunkwise/numba, else ~/.cache/chunkwise/numba."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chunkwise" / "numba"


def _temp_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"chunkwise-numba-{os.getuid()}"


def ensure_numba_cache_dir() -> bool:
    """Set NUMBA_CACHE_DIR to a private directory unless the environment already has one.

    Falls back to the system temporary directory when the home directory is read-only,
    as it is for some service users. Returns whether kernels can be cached on disk.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return True
    candidates = [
        (_user_cache_dir(), NOT_WRITABLE_BY_OTHERS),
        (_temp_cache_dir(), NOTHING_FOR_OTHERS),
    ]
    for path, forbidden in candidates:
        if _is_private_dir(path, forbidden):
            os.environ["NUMBA_CACHE_DIR"] = str(path)
            return True
    logger.warning("no private directory for the numba cache: kernels compile in each process")
    return False


def _is_private_dir(path: Path, forbidden: int) -> bool:
    """Create `path` (mode 0o700) if missing; True if it is a real directory we own, whose
    mode has none of the `forbidden` bits, and that we can write to."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=PRIVATE_MODE, exist_ok=True)
        info = path.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        logger.warning("not caching kernels in %s: it is not a directory of this user", path)
        return False
    if info.st_mode & forbidden:
        logger.warning(
            "not caching kernels in %s: other users have access (mode %o)",
            path,
            stat.S_IMODE(info.st_mode),
        )
        return False
    return os.access(path, os.W_OK)


_CACHE_ON_DISK = ensure_numba_cache_dir()

_numba: Any
try:
    _numba = importlib.import_module("numba")
except ImportError:  # pragma: no cover - exercised only where numba is not installed
    _numba = None
    logger.warning("numba cannot be imported: prime kernels fall back to numpy (2-20x slower)")

NUMBA_AVAILABLE: bool = _numba is not None


def njit(function: F) -> F:
    """Compile `function` with numba in nopython mode (cached on disk when a private cache
    directory was found); unchanged without numba."""
    if _numba is None:  # pragma: no cover - see above
        return function
    compiled: F = _numba.njit(cache=_CACHE_ON_DISK, nogil=True)(function)
    return compiled
