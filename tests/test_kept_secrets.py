"""A key kept in the data dir: made once, private to its owner, the same on every read."""

from __future__ import annotations

import stat
from pathlib import Path

from chunkwise.kept_secrets import kept_secret


def test_a_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = kept_secret(tmp_path / "data", "webhook_secret")
    assert len(first) >= 48 and kept_secret(tmp_path / "data", "webhook_secret") == first
    mode = stat.S_IMODE((tmp_path / "data" / "webhook_secret").stat().st_mode)
    assert mode == 0o600
    assert kept_secret(tmp_path / "data", "jwt_secret") != first
