"""JSON log lines carry the context of the work in hand; the text format is untouched."""

from __future__ import annotations

import io
import json
import logging

from chunkwise.engine import ChunkRunner
from chunkwise.logs import ContextFilter, JsonFormatter, log_context
from chunkwise.store import Store
from tests.store.sample_jobs import make_job


def record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("chunkwise.test", logging.WARNING, __file__, 1, message, (), exc_info)


def test_a_line_is_one_json_object_with_the_context() -> None:
    with log_context(job_id="j-1"), log_context(chunk=3):
        line = json.loads(JsonFormatter().format(record("chunk 3 recorded")))
    assert line["message"] == "chunk 3 recorded" and line["level"] == "WARNING"
    assert (line["job_id"], line["chunk"], line["logger"]) == ("j-1", 3, "chunkwise.test")
    assert line["time"].endswith("+00:00")
    outside = json.loads(JsonFormatter().format(record("later")))
    assert "job_id" not in outside and "chunk" not in outside


def test_an_error_keeps_its_stack_in_one_line() -> None:
    try:
        raise ValueError("bad data")
    except ValueError as exc:
        text = JsonFormatter().format(record("failed", exc))
    assert "\n" not in text
    assert "ValueError: bad data" in json.loads(text)["error"]


def test_the_runner_logs_a_chunk_with_its_job_and_index(store: Store) -> None:
    job_id = make_job(store, chunks=1)
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    runner_log = logging.getLogger("chunkwise.engine.runner")
    runner_log.addHandler(handler)
    runner_log.setLevel(logging.INFO)
    try:
        ChunkRunner(store, {}).run(job_id=job_id, index=5, worker="w")  # no chunk 5: skipped
    finally:
        runner_log.removeHandler(handler)
        runner_log.setLevel(logging.NOTSET)
    lines = [json.loads(line) for line in written.getvalue().splitlines()]
    skipped = [line for line in lines if "skipping" in line["message"]]
    assert skipped and skipped[0]["job_id"] == str(job_id) and skipped[0]["chunk"] == 5
