"""Start, watch and stop the child processes of `chunkwise up` (the API and the workers).

Three choices keep a crash or a Ctrl-C from leaving processes behind:

* Each child runs in its own session (so its own process group). Ctrl-C in the terminal
  reaches only the supervisor, which then stops the children in reverse start order.
* On Linux each child asks the kernel for SIGTERM when its parent dies
  (``PR_SET_PDEATHSIG``), which covers a SIGKILLed supervisor that can run no cleanup.
  The signal follows the *thread* that forked the child, so spawn from a thread that lives
  as long as the children (normally the main thread).
* A child that has exited is observed with ``waitid(WNOWAIT)`` and left unreaped until
  :meth:`ProcessGroup.stop_all`. While it is a zombie its pid, and so its process-group id,
  cannot be reused, which makes the final SIGKILL of the group safe: it can only reach
  that child's own leftovers, never a stranger.

Typical use::

    with ProcessGroup() as group:
        restore = install_signal_handlers(group.request_stop)
        group.spawn("api", [...])
        group.spawn("worker-1", [...])
        exited = group.run_until_stopped()  # a child's name, or None after SIGINT/SIGTERM
        restore()
    # leaving the block ran stop_all()

It also holds what every part that starts processes shares: :class:`Service` (started by a
with-block, always stopped by it) and :func:`is_gone`, which tells an exited process from a
live one even while it is a zombie.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType, MappingProxyType, TracebackType
from typing import Self

__all__ = ["ProcessGroup", "Service", "install_signal_handlers", "is_gone", "signal_if_alive"]

_PR_SET_PDEATHSIG = 1
DEFAULT_POLL_S = 0.2


class Service(ABC):
    """Something a with-block starts and always stops, even when starting failed half way.

    A start that raises may already have started some processes; stop() must then stop
    whatever did start, so that no process outlives the block.
    """

    def start(self) -> object:
        """Start; the default has nothing to start (a service that only collects children)."""
        return None

    @abstractmethod
    def stop(self) -> None:
        """Stop whatever is running; safe to call again, or after a failed start."""

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ProcessGroup(Service):
    """Named child processes that are stopped together and never outlive the supervisor."""

    def __init__(self, *, poll_interval_s: float = DEFAULT_POLL_S) -> None:
        self.poll_interval_s = poll_interval_s
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._reported: set[str] = set()
        # A plain bool, not a threading.Event: a signal handler that calls Event.set() can
        # deadlock on the lock the interrupted main thread holds inside Event.wait().
        self._stop_requested = False

    @property
    def children(self) -> Mapping[str, subprocess.Popen[bytes]]:
        """The children by name, in start order (read-only)."""
        return MappingProxyType(self._children)

    @property
    def stop_requested(self) -> bool:
        """Whether request_stop() has been called (by a signal handler, usually)."""
        return self._stop_requested

    def spawn(
        self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start `argv` as the child `name`; `env` replaces the environment, as in Popen."""
        if name in self._children:
            raise ValueError(f"a child named {name!r} already exists")
        process = subprocess.Popen(
            list(argv),
            env=None if env is None else dict(env),
            start_new_session=True,
            preexec_fn=_die_with_parent_hook(),
        )
        self._children[name] = process
        return process

    def returncode(self, name: str) -> int | None:
        """The child's exit status (negative: killed by that signal), or None if running."""
        return _peek_returncode(self._children[name])

    def send_signal(self, name: str, sig: signal.Signals) -> None:
        """Send `sig` to the child `name` and everything in its process group.

        Safe as long as the child is unreaped (see the module docstring): its process-group
        id is still its own, so the signal reaches no stranger.
        """
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._children[name].pid, sig)

    def request_stop(self) -> None:
        """Make wait_any() and run_until_stopped() return; safe to call from a signal handler."""
        self._stop_requested = True

    def wait_any(self, timeout_s: float | None = None) -> str | None:
        """Wait for a child to exit and return its name; each exit is reported once.

        Returns None when `timeout_s` passes or a stop is requested first.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            name = self._newly_exited()
            if name is not None:
                return name
            if self._stop_requested:
                return None
            remaining_s = self.poll_interval_s if deadline is None else deadline - time.monotonic()
            if remaining_s <= 0:
                return None
            time.sleep(min(self.poll_interval_s, remaining_s))

    def run_until_stopped(self) -> str | None:
        """Block until a child exits (its name) or a stop is requested (None)."""
        return self.wait_any(None)

    def stop_all(self, grace_s: float = 10.0) -> None:
        """SIGTERM every child (reverse start order), SIGKILL what is left after `grace_s`.

        The SIGKILL goes to each child's whole process group, so grandchildren a child left
        behind go too. Every child is reaped before this returns.
        """
        unreaped = [p for p in reversed(self._children.values()) if p.returncode is None]
        for process in unreaped:
            if _peek_returncode(process) is None:
                signal_if_alive(process.pid, signal.SIGTERM)
        self._wait_exited(unreaped, grace_s)
        for process in unreaped:
            # Safe: the leader is alive or an unreaped zombie, so its pgid is still its own.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in unreaped:
            process.wait()

    def _newly_exited(self) -> str | None:
        for name, process in self._children.items():
            if name not in self._reported and _peek_returncode(process) is not None:
                self._reported.add(name)
                return name
        return None

    def _wait_exited(self, processes: Sequence[subprocess.Popen[bytes]], grace_s: float) -> None:
        deadline = time.monotonic() + grace_s
        # A finer step than poll_interval_s: shutdown latency adds up across restarts.
        step_s = min(self.poll_interval_s, 0.05)
        while any(_peek_returncode(p) is None for p in processes):
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                return
            time.sleep(min(step_s, remaining_s))

    def stop(self) -> None:
        """stop_all() with its default grace period (what leaving a with-block does)."""
        self.stop_all()


def install_signal_handlers(
    on_stop: Callable[[], None],
    signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
) -> Callable[[], None]:
    """Call `on_stop` on SIGINT and SIGTERM instead of dying; return a function that restores.

    `on_stop` runs inside a signal handler, so it should only set a flag (as
    ProcessGroup.request_stop does). Call from the main thread.
    """

    def handle(signum: int, frame: FrameType | None) -> None:
        on_stop()

    previous = {sig: signal.signal(sig, handle) for sig in signals}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _peek_returncode(process: subprocess.Popen[bytes]) -> int | None:
    """The exit status like Popen.returncode, without reaping (see the module docstring)."""
    if process.returncode is not None:
        return process.returncode
    try:
        info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped behind Popen's back; let Popen record what it can
        return process.poll()
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def signal_if_alive(pid: int, sig: signal.Signals) -> None:
    """Send `sig` to `pid`; a process that is already gone needs no signal."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def is_gone(pid: int) -> bool:
    """Whether `pid` has exited: no such process, or a zombie only its parent can reap.

    A zombie still answers kill(pid, 0), so only its state in /proc tells it has exited.
    Where there is no /proc (not Linux), a process that answers counts as alive.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: it exists
        return False
    if sys.platform != "linux":
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except FileNotFoundError:  # exited between the two looks
        return True
    except OSError:
        return False
    # The state letter follows the command name, which is in parentheses and may hold any.
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn that has the kernel SIGTERM the child when this parent dies (Linux)."""
    if sys.platform != "linux":
        return None
    # Resolved before the fork: the child should only make the system call.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent_pid = os.getpid()

    def die_with_parent() -> None:
        prctl(ctypes.c_int(_PR_SET_PDEATHSIG), ctypes.c_ulong(signal.SIGTERM))
        # The parent may have died before prctl took effect; then nobody would signal us.
        # Exit rather than kill ourselves: the parent's Python SIGTERM handler is still
        # installed here, before exec, and would swallow the signal.
        if os.getppid() != parent_pid:
            os._exit(1)

    return die_with_parent
