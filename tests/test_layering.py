"""The layers import downwards only, and what a layer loads is only what it needs.

The static check reads every module's imports, so it runs in the unit loop; the two
checks of what an import loads at run time need a fresh interpreter, so they are
integration tests.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import chunkwise

PACKAGE = Path(chunkwise.__file__).parent

LAYER = {
    "workloads": 0,
    "errors": 0,
    "schemas": 0,
    "logs": 0,
    "probe": 0,
    "config": 1,
    "store": 1,
    "supervisor": 0,
    "embedded_broker": 1,
    "client": 2,
    "engine": 2,
    "worker": 3,
    "api": 3,
    "launcher": 4,
    "cli": 5,
    "__main__": 6,
}
"""Each top-level module or package of chunkwise, and its rank: a part imports only parts
of a lower rank (and the package's own `__init__`, which holds the version)."""


def part_of(module: str) -> str:
    return module.split(".")[1] if "." in module else "__init__"


def imports_of(path: Path) -> set[str]:
    """The chunkwise modules a source file imports, anywhere in it (lazy imports too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name == "chunkwise" or name.startswith("chunkwise.")}


def test_every_part_has_a_layer() -> None:
    parts = {path.stem for path in PACKAGE.glob("*.py")} | {
        path.parent.name for path in PACKAGE.glob("*/__init__.py")
    }
    assert parts - {"__init__"} == set(LAYER)


def test_parts_import_only_lower_layers() -> None:
    upward = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        part = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        if part == "__init__":
            continue
        for module in imports_of(path):
            target = part_of(module)
            if target not in (part, "__init__") and LAYER[target] >= LAYER[part]:
                upward.append(f"{relative} imports {module}")
    assert upward == []


def modules_loaded_by(code: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules under `prefixes` that running `code` in a fresh interpreter loads."""
    probe = (
        f"{code}\nimport sys\nprint(sorted(m for m in sys.modules if m.startswith({prefixes!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded: list[str] = ast.literal_eval(out.stdout)
    return loaded


NO_NUMBA = {
    "the API": (
        "from chunkwise.api.app import create_app\n"
        "from chunkwise.config import Settings\n"
        "create_app(Settings(data_dir={root!r}, database_url='sqlite:///{root}/api.db', "
        "broker_url='redis://127.0.0.1:1/0'))\n"
    ),
    "job submission": "import chunkwise.engine.dispatch\n",
}


@pytest.mark.integration
@pytest.mark.parametrize("what", sorted(NO_NUMBA))
def test_validating_jobs_does_not_load_numba(what: str, tmp_path: Path) -> None:
    code = NO_NUMBA[what].format(root=str(tmp_path)) + (
        "from chunkwise.engine.dispatch import validate_job\n"
        "validate_job('prime_count', {'n': 10**6}, {})\n"
        "validate_job('prime_list', {'end': 10**6}, {})\n"
    )
    assert modules_loaded_by(code, ("numba", "llvmlite")) == []


@pytest.mark.integration
def test_workloads_load_nothing_of_the_service_layers() -> None:
    service = ("celery", "kombu", "sqlalchemy", "fastapi", "starlette", "chunkwise.")
    loaded = modules_loaded_by("import chunkwise.workloads", service)
    assert [name for name in loaded if not name.startswith("chunkwise.workloads")] == []
