"""The deploy test's measured steps, printed as a table at the end of the run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Timings:
    """Steps in the order they ended, each with its seconds and a note."""

    rows: list[tuple[str, float, str]] = field(default_factory=list)

    def add(self, step: str, seconds: float, note: str = "") -> None:
        self.rows.append((step, seconds, note))

    @contextmanager
    def measure(self, step: str) -> Iterator[None]:
        """Time the block; a step that raised is still listed, marked failed."""
        started = time.monotonic()
        try:
            yield
        except BaseException:
            self.add(step, time.monotonic() - started, "failed")
            raise
        self.add(step, time.monotonic() - started)

    def table(self) -> list[str]:
        width = max([len("step"), *(len(step) for step, _, _ in self.rows)])
        lines = [
            f"| {'step':<{width}} | {'time':>9} | note",
            f"|{'-' * (width + 2)}|{'-' * 11}|-----",
        ]
        for step, seconds, note in self.rows:
            lines.append(f"| {step:<{width}} | {seconds:>7.1f} s | {note}")
        return lines
