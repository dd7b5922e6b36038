"""The runner's failure rules, in-process against a real SQLite store: a store outage is
waited out without computing again, and anything deterministic fails the job at once with
a one-line error."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from chunkwise.engine.runner import ERROR_MAX_BYTES, ChunkOutcome, ChunkRunner, headline
from chunkwise.errors import StoreOutageError, StoreUnavailableError, TransientChunkError
from chunkwise.store import Store, jobs, recording
from chunkwise.store.models import Job
from chunkwise.workloads import registry
from chunkwise.workloads.base import Chunk, Partial, Piece, Workload


class Params(BaseModel):
    model_config = ConfigDict(extra="allow")


class Probe(Workload[Params]):
    """A kind whose every behaviour a test can choose through the chunk spec."""

    kind = "runner_probe"
    description = "Runner tests."
    params_model = Params
    computed: list[int] = []  # noqa: RUF012 - shared on purpose: counts computations

    def split(self, params: Params, chunks: int) -> list[Chunk]:
        return [{"index": i, **params.model_dump()} for i in range(chunks)]

    def run_chunk(self, chunk: Chunk) -> Partial:
        Probe.computed.append(chunk["index"])
        behaviour = chunk.get("behaviour")
        if behaviour == "numpy":
            return np.int64(1)
        if behaviour == "connection":
            raise ConnectionError("peer went away")
        if behaviour == "long-error":
            raise ValueError("x" * 5000)
        return 1

    def cache_pieces(self, chunk: Chunk) -> list[Piece]:
        if chunk.get("behaviour") == "pieces":
            raise KeyError("grid")
        return [Piece(None, chunk)]

    def merge_pieces(self, partials: Sequence[Partial]) -> Partial:
        return partials[0]

    def combine(self, params: Params, partials: Sequence[Partial]) -> dict[str, Any]:
        if params.model_dump().get("behaviour") == "combine":
            raise ArithmeticError("cannot combine")
        return {"total": sum(partials)}


@pytest.fixture(autouse=True)
def _probe_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe kind is known for each test here only, not to the rest of the suite."""
    monkeypatch.setitem(registry._WORKLOADS, Probe.kind, Probe())


@pytest.fixture(autouse=True)
def _fresh_counts() -> None:
    Probe.computed.clear()


def new_job(store: Store, chunks: int = 2, kind: str = "runner_probe", **params: Any) -> uuid.UUID:
    specs = Probe().split(Params(**params), chunks)
    with store.writer() as session:
        return jobs.create_job(session, kind=kind, params=params, specs=specs).id


def job(store: Store, job_id: uuid.UUID) -> Job:
    with store.reader() as session:
        found = jobs.get_job(session, job_id=job_id)
    assert found is not None
    return found


def run(runner: ChunkRunner, job_id: uuid.UUID, index: int = 0) -> ChunkOutcome:
    return runner.run(job_id=job_id, index=index, worker="test")


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        ("no_such_kind", {}, "chunk 0 could not be run: no live worker runs kind 'no_such_kind'"),
        ("runner_probe", {"behaviour": "pieces"}, "chunk 0 could not be prepared: KeyError"),
        (
            "runner_probe",
            {"behaviour": "numpy"},
            "chunk 0 returned a partial that cannot be stored: TypeError: "
            "Object of type int64 is not JSON serializable",
        ),
    ],
)
def test_a_deterministic_error_fails_the_job_at_once(
    store: Store, kind: str, params: dict[str, Any], expected: str
) -> None:
    job_id = new_job(store, kind=kind, **params)
    assert run(ChunkRunner(store, {}), job_id) is ChunkOutcome.FAILED_JOB
    failed = job(store, job_id)
    assert failed.state == "FAILURE"
    assert failed.error is not None and failed.error.startswith(expected), failed.error
    assert "\n" not in failed.error


def test_combining_that_fails_fails_the_job(store: Store) -> None:
    job_id = new_job(store, chunks=1, behaviour="combine")
    assert run(ChunkRunner(store, {}), job_id) is ChunkOutcome.FAILED_JOB
    error = job(store, job_id).error
    assert (
        error == "chunk 0 completed the job, but combining failed: ArithmeticError: cannot combine"
    )


def test_a_database_error_in_recording_fails_the_job_without_sql(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_record(connection: Any, **_: Any) -> None:
        connection.execute(text("INSERT INTO no_such_table VALUES (:secret)"), {"secret": "s3cr3t"})

    monkeypatch.setattr(recording, "record_chunk", broken_record)
    job_id = new_job(store)
    assert run(ChunkRunner(store, {}), job_id) is ChunkOutcome.FAILED_JOB
    error = job(store, job_id).error
    assert error == "chunk 0 could not be recorded: OperationalError: no such table: no_such_table"
    assert Probe.computed == [0]


def test_an_error_is_one_bounded_line(store: Store) -> None:
    job_id = new_job(store, behaviour="long-error")
    run(ChunkRunner(store, {}), job_id)
    error = job(store, job_id).error
    assert error is not None and error.startswith("chunk 0 failed: ValueError: xxx")
    assert len(error.encode()) <= ERROR_MAX_BYTES and "\n" not in error


def test_a_store_outage_is_waited_out_and_nothing_is_computed_twice(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_record = recording.record_chunk
    failures = iter([StoreUnavailableError("down"), StoreUnavailableError("still down")])

    def flaky_record(session: Any, **kwargs: Any) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_record(session, **kwargs)

    monkeypatch.setattr(recording, "record_chunk", flaky_record)
    job_id = new_job(store, chunks=1)
    assert run(ChunkRunner(store, {}, store_outage_s=30), job_id) is ChunkOutcome.RECORDED
    assert job(store, job_id).state == "SUCCESS"
    assert Probe.computed == [0]


def test_a_store_outage_past_its_bound_gives_the_chunk_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(session: Any, **kwargs: Any) -> Any:
        raise StoreUnavailableError("down")

    monkeypatch.setattr(recording, "record_chunk", down)
    job_id = new_job(store, chunks=1)
    with pytest.raises(StoreOutageError):
        run(ChunkRunner(store, {}, store_outage_s=0.3), job_id)
    assert job(store, job_id).state == "PENDING"  # started, nothing recorded


def test_a_lost_connection_in_the_computation_retries_until_the_attempts_are_used(
    store: Store,
) -> None:
    runner = ChunkRunner(store, {}, max_attempts=2)
    job_id = new_job(store, chunks=1, behaviour="connection")
    with pytest.raises(TransientChunkError):
        run(runner, job_id)
    assert run(runner, job_id) is ChunkOutcome.FAILED_JOB
    assert job(store, job_id).error == (
        "chunk 0 failed 2 times; last: ConnectionError: peer went away"
    )


def test_a_chunk_past_its_attempts_fails_its_job_without_computing(store: Store) -> None:
    job_id = new_job(store, chunks=1)
    with store.writer() as session:
        for _ in range(3):
            recording.start_chunk(session, job_id=job_id, index=0, max_attempts=3)
    assert run(ChunkRunner(store, {}, max_attempts=3), job_id) is ChunkOutcome.FAILED_JOB
    assert job(store, job_id).error == (
        "chunk 0 was started 3 times and never recorded; "
        "its worker process died or lost its lease each time"
    )
    assert Probe.computed == []


def test_headlines_never_carry_sql_or_parameters(store: Store) -> None:
    with pytest.raises(OperationalError) as caught, store.writer() as session:
        session.execute(text("SELECT * FROM missing WHERE x = :p"), {"p": "s3cr3t"})
    line = headline(caught.value)
    assert line == "OperationalError: no such table: missing"
