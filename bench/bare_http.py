"""Bare uvicorn: the ceiling the API's status reads are held to.

The API's server (uvicorn, its "auto" loop and parser: uvloop and httptools), one process,
answering every request with the same bytes, taken from a real answer of the API, from
a raw ASGI app: no framework, no routing, no store. What the API reads of a finished job
under the same load, set beside this, is what the API itself costs.

This module is also the served app: `uvicorn bare_http:app`, its answer's bytes in the
file named by BARE_HTTP_BODY.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from chunkwise.launcher import free_port

BODY_ENV = "BARE_HTTP_BODY"
STARTUP_TIMEOUT_S = 30.0
HERE = Path(__file__).resolve().parent

Message = MutableMapping[str, Any]
_answer: list[tuple[dict[str, Any], dict[str, Any]]] = []  # built on the first request


async def app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Answer every HTTP request 200 with the body file's bytes, as JSON."""
    if scope["type"] != "http":
        return
    if not _answer:
        body = Path(os.environ[BODY_ENV]).read_bytes()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        start = {"type": "http.response.start", "status": 200, "headers": headers}
        _answer.append((start, {"type": "http.response.body", "body": body}))
    start, body_message = _answer[0]
    await send(start)
    await send(body_message)


@contextmanager
def bare_http(body: bytes) -> Iterator[tuple[str, int]]:
    """Serve `body` from bare uvicorn on a free port; yield (base URL, pid); stop it after."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="chunkwise-bare-http-") as scratch:
        body_file = Path(scratch) / "body.json"
        body_file.write_bytes(body)
        argv = [
            *(sys.executable, "-m", "uvicorn", "bare_http:app", "--host", "127.0.0.1"),
            *(f"--port={port}", "--log-level=warning", "--no-access-log", "--lifespan=off"),
        ]
        env = os.environ | {BODY_ENV: str(body_file), "PYTHONPATH": str(HERE)}
        server = subprocess.Popen(argv, env=env, cwd=scratch, stdout=subprocess.DEVNULL)
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_answers(base_url, server)
            yield base_url, server.pid
        finally:
            server.terminate()
            server.wait(timeout=30)


def _wait_answers(base_url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"bare uvicorn exited ({server.returncode})")
        try:
            httpx.get(base_url, timeout=1).raise_for_status()
            return
        except httpx.HTTPError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"bare uvicorn did not answer in {STARTUP_TIMEOUT_S} s") from exc
            time.sleep(0.05)
