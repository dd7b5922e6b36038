"""Keeping SQLite transactions and fork() apart, in a process whose threads use the store
while it forks (a worker node: its lease and duties threads write while Celery forks pool
children).

SQLite keeps the lock state of every open file in process memory, shared by all the
connections to that file. A child forked while a thread of the parent is inside a
transaction inherits that state as "locked by this process", so every connection the
child opens waits on a lock no process holds, and fails with "database is locked". With
the guard on, each store session holds the guard, and fork waits until none is open.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager


class ForkGuard:
    """A lock held by store sessions and taken by fork(): no session spans a fork."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        _GUARDS.add(self)

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            yield

    def _renew(self) -> None:
        self._lock = threading.RLock()


_GUARDS: weakref.WeakSet[ForkGuard] = weakref.WeakSet()


def _before_fork() -> None:
    for guard in list(_GUARDS):
        guard._lock.acquire()


def _after_fork_in_parent() -> None:
    for guard in list(_GUARDS):
        guard._lock.release()


def _after_fork_in_child() -> None:
    for guard in list(_GUARDS):
        guard._renew()  # the child's copy is held by a thread that does not exist there


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
)
