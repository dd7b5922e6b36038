"""The Celery application, built from settings.

Delivery settings follow from one rule: a chunk may be delivered more than once, and the
store makes that harmless. `acks_late` with `task_reject_on_worker_lost` puts a chunk
back on the queue when the process computing it dies, and prefetch 1 means a dead
worker strands only the chunk it was running. Results never go through Celery: workers
write partials to the store, and nothing waits on a Celery result.
"""

from __future__ import annotations

import uuid

from celery import Celery
from kombu.entity import Exchange, Queue
from kombu.exceptions import ChannelError

from chunkwise.config import Settings
from chunkwise.engine.redis_transport import REDIS_SCHEMES
from chunkwise.engine.redis_transport import Transport as RedisTransport

CHUNK_QUEUE = "chunkwise"
"""The default chunk queue (CHUNKWISE_CHUNK_QUEUE); an app's own is `chunk_queue(app)`."""
RUN_CHUNK_TASK = "chunkwise.run_chunk"
AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")

BROKER_CONNECT_TIMEOUT_S = 2.0
"""A connection to the broker is made within this, or PUBLISH_TIMEOUT_S if shorter."""

PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0.0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
"""Publishing gives up within about a second, so the API answers 503 instead of hanging."""


URGENT_PRIORITY = 0
"""Redis pops priority 0 first: chunks taken back from a dead worker jump the queue, ahead
of every job's own, "high" ones included."""
PRIORITY_STEPS = [0, 3, 6, 9]
"""kombu's Redis queue lists, one per step: urgent, then a job's high, medium and low."""
PRIORITY_OF_LEVEL = {"high": 3, "medium": 6, "low": 9}
ORDINARY_PRIORITY = PRIORITY_OF_LEVEL["medium"]

AMQP_MAX_PRIORITY = 9
"""RabbitMQ delivers the highest number first, the other way round from Redis: a chunk
queue declared with x-max-priority 9 takes Redis's step p as priority 9 - p."""


def broker_scheme(app: Celery) -> str:
    return str(app.conf.broker_url).split(":", 1)[0]


def chunk_queue(app: Celery) -> str:
    """The queue this app's chunks travel on."""
    return str(app.conf.task_default_queue)


def webhook_queue(settings: Settings) -> str:
    """The queue completion webhooks travel on, beside the chunk queue: a slow receiver
    never stands in front of a chunk."""
    return f"{settings.chunk_queue}.webhooks"


def chunk_task_id(job_id: uuid.UUID, index: int) -> str:
    """The task id of a chunk: the same on every delivery, so it can be revoked and leased."""
    return f"{job_id}:{index}"


def parse_chunk_task_id(task_id: str) -> tuple[uuid.UUID, int] | None:
    job_id, sep, index = task_id.rpartition(":")
    try:
        return (uuid.UUID(job_id), int(index)) if sep else None
    except ValueError:
        return None


def chunk_priority(app: Celery, *, urgent: bool, level: str = "medium") -> int | None:
    """The message priority for a chunk, where the transport orders by it (Redis and
    RabbitMQ); other transports deliver in order, and `level` changes nothing there."""
    step = URGENT_PRIORITY if urgent else PRIORITY_OF_LEVEL[level]
    scheme = broker_scheme(app)
    if scheme in REDIS_SCHEMES:
        return step
    if scheme in AMQP_SCHEMES:
        return AMQP_MAX_PRIORITY - step
    return None


def queued_chunks(app: Celery) -> int:
    """Chunk messages waiting in the broker's queue (0 if the queue does not exist yet)."""
    with app.connection_for_read() as connection:
        try:
            declared = connection.default_channel.queue_declare(
                queue=chunk_queue(app), passive=True
            )
        except ChannelError:
            return 0
        return int(declared.message_count)


def create_celery(settings: Settings) -> Celery:
    """A Celery app configured for chunk delivery on `settings.broker_url`."""
    if not settings.broker_url:
        raise ValueError("CHUNKWISE_BROKER_URL is not set")
    app = Celery("chunkwise", broker=settings.broker_url, set_as_current=False)
    vt = settings.visibility_timeout_s
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=settings.chunk_queue,
        task_publish_retry_policy=PUBLISH_RETRY_POLICY,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=min(BROKER_CONNECT_TIMEOUT_S, settings.publish_timeout_s),
        # A publish waits this long for a pooled producer; they may all be held by
        # publishes that wait on a broker that stopped answering.
        broker_pool_acquire_timeout=settings.publish_timeout_s,
        broker_transport_options={"visibility_timeout": vt, "priority_steps": PRIORITY_STEPS},
        visibility_timeout=vt,
        # A chunk computing when the broker goes away finishes and records its partial in
        # the store; only its ack is lost, and a late redelivery is skipped as a duplicate.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_send_task_events=False,
        # No chunk task has a rate limit: the check would cost the main loop per chunk.
        worker_disable_rate_limits=True,
        worker_hijack_root_logger=False,
    )
    scheme = broker_scheme(app)
    if scheme in REDIS_SCHEMES:
        app.conf.broker_transport = RedisTransport
        app.conf.broker_transport_options |= broker_socket_timeouts(settings)
    elif scheme in AMQP_SCHEMES:
        webhooks = webhook_queue(settings)
        app.conf.task_queues = [
            amqp_chunk_queue(settings),
            Queue(webhooks, Exchange(webhooks, type="direct", durable=True), routing_key=webhooks),  # type: ignore[no-untyped-call]
        ]
    return app


def broker_socket_timeouts(settings: Settings) -> dict[str, float]:
    """Redis: no socket operation waits longer than PUBLISH_TIMEOUT_S. A broker that stops
    answering without closing its connections (paused, a host gone from the network)
    would otherwise hold a publish, and the submit waiting on it, for ever; kombu
    recommends it. A consumer is not cut short: its BRPOP is read only once readable."""
    return {
        "socket_timeout": settings.publish_timeout_s,
        "socket_connect_timeout": settings.publish_timeout_s,
    }


def amqp_chunk_queue(settings: Settings) -> Queue:
    """The chunk queue as RabbitMQ declares it: durable (its messages persist, as Celery
    sends them), with priorities, and a consumer timeout of the visibility timeout, above
    the hard time limit of a chunk. RabbitMQ's default is 30 minutes, no more than the
    default chunk time limit: a long chunk would have its channel closed mid-way."""
    name = settings.chunk_queue
    exchange = Exchange(name, type="direct", durable=True)  # type: ignore[no-untyped-call]
    return Queue(  # type: ignore[no-untyped-call]
        name,
        exchange,
        routing_key=name,
        durable=True,
        queue_arguments={
            "x-max-priority": AMQP_MAX_PRIORITY,
            "x-consumer-timeout": settings.visibility_timeout_s * 1000,
        },
    )
