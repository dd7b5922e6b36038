"""The job store: SQLAlchemy models and data access. It is the source of truth for job state."""

from chunkwise.store.db import Store
from chunkwise.store.models import TERMINAL_STATES, Chunk, Job, JobState, Worker

__all__ = ["TERMINAL_STATES", "Chunk", "Job", "JobState", "Store", "Worker"]
