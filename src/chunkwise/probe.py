"""`python -m chunkwise.probe live|ready|worker`: the health checks of containers and pods.

A check runs every few seconds in its own process, so this module imports the standard
library only: importing chunkwise's API or CLI would cost a second and a hundred MiB per
check. It exits 0 when the part is healthy, 1 (with a line saying why) when not.

- `live`: the API process answers (GET /live). Not the store or the broker: an API that
  is restarted because the database is away would come back to the same database.
- `ready`: the API can take jobs and answer reads (GET /ready: the store and the broker
  answer; no worker is needed, jobs queue).
- `worker`: the worker node's lease thread has beaten recently (it touches
  ALIVE_FILE_NAME in the data dir on every round, whether or not the store answered).

The API's probe paths answer whatever Host header CHUNKWISE_ALLOWED_HOSTS allows, so a
check to 127.0.0.1 works on an API that serves a public name.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ALIVE_FILE_NAME = "worker.alive"
"""Touched in the data dir by a worker node's lease thread on every round."""
ALIVE_MAX_AGE_S = 30.0
"""A worker whose lease thread has not gone round for this long is not alive."""
DEFAULT_DATA_DIR = ".chunkwise"
"""config.DEFAULT_DATA_DIR, repeated: this module imports nothing of chunkwise."""


def check_http(path: str, *, port: int, timeout_s: float) -> str | None:
    """None when GET http://127.0.0.1:port/path answers 200, else why not."""
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return None if answer.status == 200 else f"{url} answered {answer.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}: {exc.read(300).decode(errors='replace')}"
    except OSError as exc:
        return f"{url} did not answer: {exc}"


def check_worker(data_dir: Path, *, max_age_s: float = ALIVE_MAX_AGE_S) -> str | None:
    """None when the worker's alive file was touched within `max_age_s`, else why not."""
    path = data_dir / ALIVE_FILE_NAME
    try:
        age_s = time.time() - path.stat().st_mtime
    except OSError:
        return f"{path} is missing: the worker has not started its lease"
    if age_s > max_age_s:
        return f"the worker's lease thread last went round {age_s:.0f} s ago"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chunkwise.probe", description=__doc__)
    parser.add_argument("check", choices=("live", "ready", "worker"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("CHUNKWISE_API_PORT", 8000)))
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("CHUNKWISE_DATA_DIR", DEFAULT_DATA_DIR)),
    )
    args = parser.parse_args(argv)
    if args.check == "worker":
        problem = check_worker(args.data_dir)
    else:
        problem = check_http(f"/{args.check}", port=args.port, timeout_s=args.timeout)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
