"""Requests per second and p99 latency of one URL under a fixed number of connections.

`wrk` does it when it is on PATH (the Debian package; `make bench-tools`). Otherwise a small
built-in generator does, so the bench runs on a fresh machine: asyncio in a separate
process, one keep-alive socket a connection, each sending one pre-encoded request and
reading the whole answer before the next (a closed loop, as wrk's). It costs more CPU per
request than wrk, so on a small machine it takes more of the server's share: its figures
are a lower bound.

    python bench/http_load.py http://127.0.0.1:8000/health --connections 32 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

UNITS_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class HttpLoad:
    """What one load run measured; `errors` counts non-2xx answers and socket errors."""

    requests_per_s: float
    p99_ms: float
    requests: int
    errors: int
    tool: str


def hammer(url: str, *, connections: int, seconds: float, tool: str = "auto") -> HttpLoad:
    """Load `url` with `connections` keep-alive connections for `seconds`.

    tool: "wrk", "builtin", or "auto" (wrk when installed).
    """
    if tool == "wrk" or (tool == "auto" and shutil.which("wrk") is not None):
        return wrk(url, connections=connections, seconds=seconds)
    command = [sys.executable, __file__, url, f"--connections={connections}"]
    command.append(f"--seconds={seconds}")
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"the built-in load generator failed: {out.stderr.strip()[-500:]}")
    return HttpLoad(**json.loads(out.stdout))


def wrk(url: str, *, connections: int, seconds: float) -> HttpLoad:
    """One wrk thread (it keeps up with one API process and leaves the other core to it)."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stderr.strip() or out.stdout.strip()}")
    return parse_wrk(out.stdout)


def parse_wrk(text: str) -> HttpLoad:
    """The figures of wrk's `--latency` report."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\b", text, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in", text, re.MULTILINE)
    if rate is None or p99 is None or total is None:
        raise RuntimeError(f"wrk printed no figures:\n{text}")
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    socket_errors = re.search(r"Socket errors:(.*)", text)
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(count) for count in re.findall(r"\d+", socket_errors.group(1)))
    return HttpLoad(
        requests_per_s=float(rate.group(1)),
        p99_ms=float(p99.group(1)) * UNITS_S[p99.group(2)] * 1000,
        requests=int(total.group(1)),
        errors=failed,
        tool="wrk",
    )


async def _connection(
    host: str, port: int, request: bytes, until: float, latencies: list[float]
) -> int:
    """One keep-alive connection, request after request until `until`; returns errors."""
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    try:
        while time.perf_counter() < until:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            if length is None:
                raise RuntimeError(f"an answer without Content-Length: {head!r}")
            await reader.readexactly(int(length.group(1)))
            latencies.append(time.perf_counter() - start)
            errors += not head.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2"))
    finally:
        writer.close()
    return errors


async def _builtin(url: str, connections: int, seconds: float) -> HttpLoad:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    latencies: list[float] = []
    start = time.perf_counter()
    until = start + seconds
    work = [_connection(host, port, request, until, latencies) for _ in range(connections)]
    errors = sum(await asyncio.gather(*work))
    elapsed = time.perf_counter() - start
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else float("nan")
    return HttpLoad(len(latencies) / elapsed, p99 * 1000, len(latencies), errors, "built-in")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    try:
        import uvloop  # uvicorn[standard] brings it; the plain loop is slower, not wrong
    except ImportError:
        result = asyncio.run(_builtin(args.url, args.connections, args.seconds))
    else:
        result = uvloop.run(_builtin(args.url, args.connections, args.seconds))
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
