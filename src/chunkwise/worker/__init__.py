"""The worker node: computing chunks, holding their lease, and its duties on the side."""

from chunkwise.worker.node import run_worker

__all__ = ["run_worker"]
