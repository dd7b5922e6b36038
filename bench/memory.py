"""Measure the memory of a whole `chunkwise up` tree and print one table.

Run: python bench/memory.py [--workers 2]

It starts `chunkwise up --workers N` on a free port in a scratch data directory, runs one
small prime_count job (so the pool processes have computed with the kernels), then reads
``/proc/PID/smaps_rollup`` for the `up` process and every descendant: broker, API, worker
node and pool processes. PSS (proportional set size) charges each shared page to the
processes sharing it in equal parts, so the PSS column adds up to what the tree really
costs; RSS counts shared pages once per process and overstates it. USS counts only the
pages a process alone holds. Other programs that map the same libraries (another Python
with numpy, say) take their share of those pages, so PSS varies a little with what else
runs on the machine; USS does not. Linux only.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from system import running_system, timed_job

KiB = 1024
MiB = 1024 * KiB
SMALL_JOB = {"kind": "prime_count", "params": {"n": 10**8}, "chunks": 8}


@dataclass(frozen=True)
class Process:
    """One process of the tree with its memory, in bytes."""

    pid: int
    role: str
    rss: int
    pss: int
    uss: int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="`chunkwise up --workers N`")
    args = parser.parse_args()
    # running_system returns once every process is alive, so each is measured warm.
    with running_system(workers=args.workers) as system:
        timed_job(system.base_url, SMALL_JOB, cache=False)
        processes = measure_tree(system.pid)
    print_table(processes, workers=args.workers)


def measure_tree(root: int) -> list[Process]:
    """The root process and all its descendants, each with its role and memory."""
    return [Process(pid, role, *smaps_rollup(pid)) for pid, role in process_tree(root)]


def process_tree(root: int) -> list[tuple[int, str]]:
    """The root process and all its descendants, breadth first, each with its role."""
    children = child_map()
    found: list[tuple[int, str]] = []
    pending = [(root, "")]
    while pending:
        pid, parent_role = pending.pop(0)
        role = role_of(pid, parent_role)
        found.append((pid, role))
        pending.extend((child, role) for child in sorted(children.get(pid, [])))
    return found


def child_map() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process this user can see."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def role_of(pid: int, parent_role: str) -> str:
    """Name a process by its command line; a forked pool process has its parent's."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    if parent_role.startswith("worker"):
        return "worker pool process"
    if "chunkwise" in argv and len(argv) > argv.index("chunkwise") + 1:
        command = argv[argv.index("chunkwise") + 1]
        return {"up": "up (supervisor)", "api": "api", "worker": "worker node"}.get(
            command, command
        )
    if any("valkey" in part or "redis" in part for part in argv):
        return "broker"
    return Path(argv[0]).name


def smaps_rollup(pid: int) -> tuple[int, int, int]:
    """(RSS, PSS, USS) in bytes from /proc/PID/smaps_rollup."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            fields[name] = int(parts[0]) * KiB
    return fields["Rss"], fields["Pss"], fields["Private_Clean"] + fields["Private_Dirty"]


def peak_rss(pid: int) -> int:
    """The most resident memory the process has held since it started (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * KiB
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM")


def print_table(processes: list[Process], *, workers: int) -> None:
    print(f"`chunkwise up --workers {workers}` after one prime_count job, n = 1e8\n")
    print("| process | RSS | PSS | USS |")
    print("| --- | --- | --- | --- |")
    for p in processes:
        print(f"| {p.role} | {mib(p.rss)} | {mib(p.pss)} | {mib(p.uss)} |")
    rss, pss, uss = (sum(getattr(p, size) for p in processes) for size in ("rss", "pss", "uss"))
    print(f"| **total, {len(processes)} processes** | {mib(rss)} | **{mib(pss)}** | {mib(uss)} |")


def mib(size: int) -> str:
    return f"{size / MiB:.0f} MiB"


if __name__ == "__main__":
    main()
