"""Reading a text/event-stream as the API writes it, and as the format allows it."""

from __future__ import annotations

import pytest

from chunkwise.client.events import EventStreamParser, JobEvent, MalformedEvent
from tests.client.fake_api import end, job_view, progress


def parse(text: bytes) -> tuple[list[JobEvent], EventStreamParser]:
    parser = EventStreamParser()
    events = [event for line in text.decode().split("\n") if (event := parser.feed(line))]
    return events, parser


def test_progress_then_end_with_the_final_view() -> None:
    view = job_view(result={"sum": 10**40 + 1})
    events, parser = parse(
        b"retry: 1000\n\n" + progress(0) + b": keep-alive\n\n" + progress(1, index=3) + end(view)
    )
    assert [event.name for event in events] == ["progress", "progress", "end"]
    opening, chunk, last = events
    assert opening.chunk is None and opening.completed == 0
    assert chunk.chunk is not None and chunk.chunk.index == 3 and chunk.chunk.worker == "w1"
    assert chunk.work_done == 0.25 and not chunk.is_end
    assert last.is_end and last.job is not None
    assert last.job.result == {"sum": 10**40 + 1}, "a big integer stays exact"
    assert parser.retry_s == 1.0


def test_data_over_several_lines_and_fields_without_a_space() -> None:
    text = (
        b'event:progress\ndata: {"job_id": "6f1c2a9e-1b2c-4d3e-8f40-5a6b7c8d9e0f",\n'
        b'data:"state": "STARTED", "completed": 0, "total": 2}\n\n'
    )
    [event], _ = parse(text)
    assert (event.state, event.completed, event.total) == ("STARTED", 0, 2)


def test_other_events_and_an_unfinished_event_are_skipped() -> None:
    events, _ = parse(b'event: hello\ndata: {"x": 1}\n\n' + progress(1)[:-2])
    assert events == []


def test_data_the_api_does_not_send_is_malformed() -> None:
    with pytest.raises(MalformedEvent):
        parse(b'event: progress\ndata: {"state": 3}\n\n')
