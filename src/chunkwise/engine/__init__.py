"""The engine: Celery delivery of chunks, and the job lifecycle against the store."""

from chunkwise.engine.celery_app import create_celery
from chunkwise.engine.dispatch import cancel_job, submit_job, validate_job
from chunkwise.engine.runner import ChunkRunner

__all__ = ["ChunkRunner", "cancel_job", "create_celery", "submit_job", "validate_job"]
