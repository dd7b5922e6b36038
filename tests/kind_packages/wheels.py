"""Wheels of the one-module projects in this folder, built with the standard library.

A test installs a kind package the way a user would, with pip, from a wheel. Building a
wheel takes a build backend, which a test environment may lack (a setuptools older than
70.1 without the `wheel` package cannot build one) and pip would otherwise fetch from an
index. A wheel of pure-Python modules is only a zip of the modules and a few metadata
files (PEP 427), so it is written here, from the project's own pyproject.toml: the entry
points pip installs are the ones the project declares.
"""

from __future__ import annotations

import base64
import hashlib
import re
import tomllib
import zipfile
from pathlib import Path
from typing import Any

WHEEL_FILE = "Wheel-Version: 1.0\nGenerator: chunkwise-tests\nRoot-Is-Purelib: true\n"
TAG = "py3-none-any"


def build_wheel(project: Path, out_dir: Path) -> Path:
    """Build the wheel of `project` (a pyproject.toml whose [tool.setuptools] names its
    py-modules) into `out_dir`, and return its path."""
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    spec = meta["project"]
    stem = f"{re.sub(r'[-_.]+', '_', spec['name']).lower()}-{spec['version']}"
    info = f"{stem}.dist-info"
    files = {
        f"{module}.py": (project / f"{module}.py").read_bytes()
        for module in meta["tool"]["setuptools"]["py-modules"]
    }
    files[f"{info}/METADATA"] = _metadata(spec).encode()
    files[f"{info}/WHEEL"] = f"{WHEEL_FILE}Tag: {TAG}\n".encode()
    files[f"{info}/entry_points.txt"] = _entry_points(spec).encode()
    record = [f"{path},sha256={_digest(data)},{len(data)}" for path, data in files.items()]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,", ""]).encode()
    wheel = out_dir / f"{stem}-{TAG}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def _metadata(spec: dict[str, Any]) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {spec['name']}", f"Version: {spec['version']}"]
    lines += [f"Summary: {spec['description']}"] if "description" in spec else []
    lines += [f"Requires-Dist: {requirement}" for requirement in spec.get("dependencies", [])]
    return "\n".join([*lines, ""])


def _entry_points(spec: dict[str, Any]) -> str:
    sections = [
        "\n".join([f"[{group}]", *(f"{name} = {value}" for name, value in points.items())])
        for group, points in spec.get("entry-points", {}).items()
    ]
    return "\n\n".join(sections) + "\n"


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
