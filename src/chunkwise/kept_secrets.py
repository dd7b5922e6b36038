"""Keys an install makes for itself once and keeps in its data dir, for a setting left
empty: the access-token signing key, and under `chunkwise up` the webhook signing key."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def kept_secret(data_dir: Path | str, name: str) -> str:
    """The key in `data_dir/name`, made (mode 0600) on first use.

    Made with O_EXCL, so processes starting at once agree on one key: the first writes
    it, the others read it.
    """
    path = Path(data_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
