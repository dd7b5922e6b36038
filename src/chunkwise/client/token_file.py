"""The token `chunkwise login` keeps, shared by the CLI and the client.

It lives in the user's config dir (click's `get_app_dir`, what typer uses): on Linux
`$XDG_CONFIG_HOME/chunkwise/token`, else `~/.config/chunkwise/token`. Only its owner may
read it: the dir is made 0700 and the file 0600, before the token is written.
"""

from __future__ import annotations

import os
from pathlib import Path

from click import get_app_dir

APP_NAME = "chunkwise"


def token_path() -> Path:
    """Where the kept token lives."""
    return Path(get_app_dir(APP_NAME)) / "token"


def save_token(token: str) -> Path:
    """Keep `token` for later sessions; the file's path."""
    path = token_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(token)
    path.chmod(0o600)  # a file made before, with a looser mode, is tightened too
    return path


def kept_token() -> str | None:
    """The kept token, or None when there is none."""
    path = token_path()
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def forget_token() -> None:
    """Delete the kept token, if there is one."""
    token_path().unlink(missing_ok=True)
