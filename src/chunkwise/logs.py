"""Structured logs on request (`CHUNKWISE_LOG_FORMAT=json`): one JSON object a line, with
the context of the work in hand: the job id and chunk index on every worker line about a
chunk, a request id on every API line.

The context lives in a context variable, so it follows the work across the awaits of an
API request and stays apart between requests and threads; `log_context` sets it for a
block. With the text format nothing changes.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

LOG_CONTEXT: ContextVar[dict[str, Any] | None] = ContextVar("chunkwise_log_context", default=None)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add `fields` to every log line written inside the block."""
    token = LOG_CONTEXT.set({**(LOG_CONTEXT.get() or {}), **fields})
    try:
        yield
    finally:
        LOG_CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Fixes the context on a record as it is emitted, so a handler that formats it later
    (a queue, a buffer) still writes the context the line was logged in."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.chunkwise_context = LOG_CONTEXT.get() or {}
        return True


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time, level, logger, message, the context, the error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "chunkwise_context", LOG_CONTEXT.get() or {}),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def use_json_logs(level: str | int = "INFO") -> None:
    """Send every log line to stderr as JSON, replacing the root logger's handlers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level if isinstance(level, int) else level.upper())
