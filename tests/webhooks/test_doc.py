"""docs/webhooks.md's verification function, run as written on a delivery signed by the
sender: it accepts the body as sent and refuses a changed body or another key."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from chunkwise.engine.webhook_sender import signature

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_verify() -> Callable[[str, bytes, str], bool]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    [code] = [block for block in blocks if "def verify(" in block]
    namespace: dict[str, object] = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    verify = namespace["verify"]
    assert callable(verify)
    return verify


def test_the_documented_check_accepts_what_chunkwise_signs_and_nothing_else() -> None:
    verify = documented_verify()
    body = b'{"job_id":"e60b4772","state":"SUCCESS","result":{"sum":500500}}'
    header = signature("the-key", body)
    assert verify("the-key", body, header)
    assert not verify("the-key", body.replace(b"500500", b"500501"), header)
    assert not verify("another-key", body, header)
    assert not verify("the-key", body, "")
