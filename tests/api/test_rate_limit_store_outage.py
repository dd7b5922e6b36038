"""While the Redis that keeps the rate-limit counts is away (a restart), a request that
must be counted gets 503 with a message, never a 500, and is not let through uncounted."""

from __future__ import annotations

from typing import Any

import pytest
import redis.exceptions

from tests.api.in_process import Api, assert_error


def test_a_job_is_refused_with_503_while_the_counts_cannot_be_read(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def away(*_: Any, **__: Any) -> bool:
        raise redis.exceptions.ConnectionError("Connection closed by server.")

    monkeypatch.setattr(api.app.state.rate_limits.limiter, "hit", away)
    demo_job = {"kind": "sum_range", "params": {"n": 10}, "chunks": 1}
    response = api.http.post("/api/demo/jobs", json=demo_job)
    assert_error(response, 503, "the rate-limit counts cannot be read", None)
    assert api.job_count() == 0
