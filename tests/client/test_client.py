"""`Client` and `Job` against a fake API: what is sent, what comes back typed, how a
dropped stream is followed to its end, and how long `wait` waits."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from chunkwise.client import (
    Client,
    JobCancelled,
    JobFailed,
    NotFound,
    ServiceUnavailable,
    reconnect,
)
from chunkwise.client.token_file import save_token
from chunkwise.config import get_settings
from tests.client.fake_api import (
    BASE_URL,
    JOB_ID,
    RETRY_FAST,
    FakeApi,
    answer,
    end,
    job_view,
    progress,
    stream,
    unreachable,
)

EVENTS = f"/api/jobs/{JOB_ID}/events"
ACCEPTED = answer(202, {"job_id": JOB_ID, "status": "PENDING"})


def test_submit_sends_the_request_and_gives_a_handle() -> None:
    api = FakeApi().on("POST", "/api/jobs", ACCEPTED)
    with api.client(token="cw_secret") as client:
        job = client.submit(
            "prime_count",
            {"n": 10**6},
            chunks=16,
            cache=False,
            idempotency_key="key-1",
            callback_url="https://example.com/hook",
        )
    assert job.id == JOB_ID and job.accepted is not None and job.accepted.status == "PENDING"
    [request] = api.requests
    assert json.loads(request.content) == {
        "kind": "prime_count",
        "params": {"n": 1000000},
        "chunks": 16,
        "callback_url": "https://example.com/hook",
    }
    assert request.url.params["cache"] == "false"
    assert request.headers["Idempotency-Key"] == "key-1"
    assert request.headers["Authorization"] == "Bearer cw_secret"


def test_submit_leaves_out_what_is_not_given() -> None:
    api = FakeApi().on("POST", "/api/jobs", ACCEPTED)
    with api.client() as client:
        client.submit("sum_range", {"n": 10})
    [request] = api.requests
    assert json.loads(request.content) == {"kind": "sum_range", "params": {"n": 10}}
    assert "cache" not in request.url.params
    assert "Idempotency-Key" not in request.headers and "Authorization" not in request.headers


def test_defaults_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHUNKWISE_API_URL", "http://jobs.example:9000/")
    monkeypatch.setenv("CHUNKWISE_TOKEN", "cw_from_env")
    get_settings.cache_clear()
    save_token("kept-token")
    with Client() as client:
        assert client.base_url == "http://jobs.example:9000"
        assert client._http.headers["Authorization"] == "Bearer cw_from_env"


def test_the_kept_login_token_when_no_token_is_set(own_settings: Path) -> None:
    path = save_token("kept-token")
    assert path == own_settings / "chunkwise" / "token"
    assert path.stat().st_mode & 0o777 == 0o600
    with Client() as client:
        assert client.base_url == "http://127.0.0.1:8000"
        assert client._http.headers["Authorization"] == "Bearer kept-token"
    with Client(token="") as client:
        assert "Authorization" not in client._http.headers


def test_status_decodes_a_view_with_fields_it_does_not_know() -> None:
    view = job_view(result={"sum": 5050}, priority="high", new_section={"x": 1})
    api = FakeApi().on("GET", f"/api/jobs/{JOB_ID}", answer(200, view))
    with api.client() as client:
        status = client.job(JOB_ID).status()
    assert status.state == "SUCCESS" and status.result == {"sum": 5050}
    assert str(status.job_id) == JOB_ID


def test_events_follow_a_dropped_stream_to_the_end() -> None:
    # Given a stream that drops after one chunk, then one that gives the rest
    view = job_view()
    first = stream(RETRY_FAST, progress(0), progress(1, index=0), drop=True)
    second = stream(RETRY_FAST, progress(1), progress(2, index=1), end(view))
    api = FakeApi().on("GET", EVENTS, first, second)
    # When the events are read
    with api.client() as client:
        events = list(client.job(JOB_ID).events())
    # Then both streams' events come, the second's opening restating the job, then the end
    assert [(event.name, event.completed) for event in events] == [
        ("progress", 0),
        ("progress", 1),
        ("progress", 1),
        ("progress", 2),
        ("end", 4),
    ]
    assert len(api.sent("GET", EVENTS)) == 2


def test_a_stream_closed_before_the_end_is_opened_again() -> None:
    api = FakeApi().on("GET", EVENTS, stream(RETRY_FAST, progress(0)), stream(end(job_view())))
    with api.client() as client:
        assert client.job(JOB_ID).wait() == {"sum": 5050}
    assert len(api.sent("GET", EVENTS)) == 2


def test_a_restarting_api_is_waited_for() -> None:
    restarting = answer(503, {"detail": "store unreachable"})
    api = FakeApi().on("GET", EVENTS, unreachable, restarting, stream(end(job_view())))
    with api.client() as client:
        assert client.job(JOB_ID).wait() == {"sum": 5050}
    assert len(api.sent("GET", EVENTS)) == 3


def test_a_missing_job_is_raised_at_once() -> None:
    api = FakeApi().on("GET", EVENTS, answer(404, {"detail": "no job"}))
    with api.client() as client, pytest.raises(NotFound):
        list(client.job(JOB_ID).events())
    assert len(api.sent("GET", EVENTS)) == 1


def test_a_stream_that_never_reopens_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconnect, "RECONNECT_GIVE_UP_S", 0.2)
    api = FakeApi().on("GET", EVENTS, answer(503, {"detail": "store unreachable"}))
    with api.client() as client, pytest.raises(ServiceUnavailable):
        client.job(JOB_ID).wait()
    assert len(api.sent("GET", EVENTS)) > 2


def test_wait_raises_job_failed_with_the_error() -> None:
    view = job_view("FAILURE", error="ZeroDivisionError: division by zero")
    api = FakeApi().on("GET", EVENTS, stream(end(view)))
    with api.client() as client, pytest.raises(JobFailed) as raised:
        client.job(JOB_ID).wait()
    assert raised.value.error == "ZeroDivisionError: division by zero"
    assert raised.value.job.state == "FAILURE"


def test_wait_raises_job_cancelled() -> None:
    view = job_view("CANCELLED", progress={"completed": 1, "total": 4, "cached": 0})
    api = FakeApi().on("GET", EVENTS, stream(end(view)))
    with api.client() as client, pytest.raises(JobCancelled) as raised:
        client.job(JOB_ID).wait()
    assert raised.value.job.progress.completed == 1
    assert "cancelled after 1/4 chunks" in str(raised.value)


def test_wait_times_out_on_a_quiet_stream() -> None:
    # Given a stream of keep-alive comments for 3 s, then the end
    quiet = [b": keep-alive\n\n"] * 150
    api = FakeApi().on("GET", EVENTS, stream(progress(0), *quiet, end(job_view()), pause_s=0.02))
    with api.client() as client:
        started = time.monotonic()
        # When a wait of 0.3 s follows it, then it gives up at 0.3 s, before the end
        with pytest.raises(TimeoutError):
            client.job(JOB_ID).wait(timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 2.0


def test_wait_times_out_while_the_api_is_down() -> None:
    api = FakeApi().on("GET", EVENTS, unreachable)
    with api.client() as client:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            client.job(JOB_ID).wait(timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 2.0


def test_jobs_pages_through_history_with_filters_and_no_repeats() -> None:
    views = [job_view(job_id=f"00000000-0000-4000-8000-{number:012d}") for number in range(5)]
    # A job submitted after the first page is read pushes the others down by one
    pages = {0: (views[0:2], 2), 2: (views[1:3], 4), 4: (views[3:5], None)}

    def page(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        items, after = pages[offset]
        body = {"items": items, "total": 6, "limit": 2, "offset": offset, "next_offset": after}
        return httpx.Response(200, json=body)

    api = FakeApi().on("GET", "/api/jobs", page)
    with api.client() as client:
        listed = client.jobs(state=["SUCCESS", "FAILURE"], kind="sum_range", page_size=2)
        assert [str(view.job_id) for view in listed] == [view["job_id"] for view in views]
    query = api.requests[0].url.params
    assert query.get_list("state") == ["SUCCESS", "FAILURE"]
    assert query.get_list("kind") == ["sum_range"] and query["limit"] == "2"
    assert [int(r.url.params["offset"]) for r in api.requests] == [0, 2, 4]


def test_result_items_reads_every_page_in_order() -> None:
    items = list(range(2, 25))

    def page(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        end_at = min(offset + limit, len(items))
        body = {
            "job_id": JOB_ID,
            "total": len(items),
            "offset": offset,
            "limit": limit,
            "items": items[offset:end_at],
            "next_offset": end_at if end_at < len(items) else None,
        }
        return httpx.Response(200, json=body)

    api = FakeApi().on("GET", f"/api/jobs/{JOB_ID}/result", page)
    with api.client() as client:
        assert list(client.job(JOB_ID).result_items(page_size=10)) == items
    assert len(api.requests) == 3


def test_kinds_and_cancel_are_typed() -> None:
    kind = {
        "kind": "sum_range",
        "title": "Sum of a range",
        "description": "1 + 2 + ... + n",
        "params_schema": {"type": "object"},
        "limits": {},
        "chunks": {"minimum": 1, "maximum": 128, "default": 8},
    }
    cancelled = job_view("CANCELLED")
    api = (
        FakeApi()
        .on("GET", "/api/kinds", answer(200, [kind]))
        .on("POST", f"/api/jobs/{JOB_ID}/cancel", answer(200, cancelled))
    )
    with api.client() as client:
        [listed] = client.kinds()
        assert listed.kind == "sum_range" and listed.chunks.maximum == 128
        assert client.job(JOB_ID).cancel().state == "CANCELLED"


def test_leaving_the_with_block_closes_the_connections() -> None:
    with FakeApi().client() as client:
        pass
    assert client._http.is_closed
    assert client.base_url == BASE_URL
