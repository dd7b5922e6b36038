"""docs/architecture.md is the newcomer's map: it must name every package and module of
chunkwise, so a module added without a line there fails here."""

from __future__ import annotations

from pathlib import Path

import chunkwise

PACKAGE = Path(chunkwise.__file__).parent
MAP = PACKAGE.parent.parent / "docs" / "architecture.md"


def test_the_map_names_every_package_and_module() -> None:
    text = MAP.read_text(encoding="utf-8")
    paths = [path.relative_to(PACKAGE) for path in PACKAGE.rglob("*.py")]
    named = {
        str(path.parent) + "/" if path.name == "__init__.py" else str(path)
        for path in paths
        if str(path) != "__init__.py"
    }
    assert sorted(name for name in named if f"`{name}" not in text) == []
