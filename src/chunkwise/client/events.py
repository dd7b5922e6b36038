"""A job's live events, typed, and the reading of the text/event-stream they come in.

The parser is fed one line at a time, so the synchronous and the asynchronous client read
a stream the same way. It follows the Server-Sent Events format as far as the API uses
it: `event:` and `data:` fields, `retry:`, comments (the keep-alives), blank lines ending
an event.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from chunkwise.client.errors import ClientError
from chunkwise.schemas import JobView

EventName = Literal["progress", "end"]


class ChunkDone(BaseModel):
    """The chunk a progress event reports."""

    index: int
    worker: str | None = None
    cache_hits: int = 0


class JobEvent(BaseModel):
    """One event of a job's stream.

    A stream opens with a `progress` event restating the job (`chunk` None), then has one
    per recorded chunk, in the order they were recorded, and ends with `end`, whose `job`
    is the final view, as `Job.status()` gives it.
    """

    name: EventName
    job_id: uuid.UUID
    state: str
    completed: int
    total: int
    cached: int = 0
    work_done: float | None = None
    """The share of the job's work recorded (0 to 1), where a kind's chunks differ in size."""
    chunk: ChunkDone | None = None
    job: JobView | None = None

    @property
    def is_end(self) -> bool:
        return self.name == "end"


class MalformedEvent(ClientError, ValueError):
    """Raised when an event's data is not what the API sends."""


@dataclass
class EventStreamParser:
    """Turns the lines of an event stream into `JobEvent`s.

    Events of other names are skipped, so a newer API may add some. `retry_s` is the
    pause the stream asked for before a reconnection, once it has said.
    """

    retry_s: float | None = None
    _name: str = ""
    _data: list[str] | None = None

    def feed(self, line: str) -> JobEvent | None:
        """The event a line completes, if it does."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self._name = value
        elif field == "data":
            self._data = [*(self._data or []), value]
        elif field == "retry" and value.isdigit():
            self.retry_s = int(value) / 1000
        return None

    def _dispatch(self) -> JobEvent | None:
        name, data = self._name or "message", self._data
        self._name, self._data = "", None
        if data is None or name not in ("progress", "end"):
            return None
        return decode_event(name, "\n".join(data))


def decode_event(name: str, data: str) -> JobEvent:
    """The typed event of one `event:` name and its `data:`."""
    try:
        fields = json.loads(data)
        return JobEvent.model_validate({**fields, "name": name})
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        raise MalformedEvent(f"a {name} event the client cannot read: {data[:200]!r}") from exc
