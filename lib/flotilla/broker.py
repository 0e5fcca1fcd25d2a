"""RabbitMQ: how every service reaches it, and the one topic exchange events go through.

Every event is published to EXCHANGE with its type as the routing key, as a persistent
JSON message whose body is the envelope of API.md: {id, type, occurred_at, request_id, data}.

A topic exchange drops a message that no queue is bound for: that is how it works, not a
failure, so the relay's confirm says only that RabbitMQ took the message. A consumer gets
the events published after its queue exists; that is why every consumer's queue is declared
by declare_topology, which the relay runs on every connection before it publishes and the
consumers run too: the queues exist from the first start of any publisher. Which queues
and event types those are is deployment configuration (EVENT_QUEUES), not code.
"""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pika

from flotilla.config import ConfigError, Env

EXCHANGE = "flotilla.events"
# Where a consumer's queue sends a message it gave up on, routed by the queue's name.
DEAD_LETTER_EXCHANGE = "flotilla.dead"
# Behind the consumers' own retries: a message whose handling kills the worker before it can
# answer comes back each time; after this many deliveries RabbitMQ dead-letters it.
DELIVERY_LIMIT = 20
CONNECT_TIMEOUT_SECONDS = 5

# Relays and consumers report an outage once; pika would log every failed attempt.
logging.getLogger("pika").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class BrokerSettings:
    """Where RabbitMQ is, with the password from RABBITMQ_PASSWORD or RABBITMQ_PASSWORD_FILE,
    and each consumer's queue with the event types bound to it (EVENT_QUEUES)."""

    url: str
    queues: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Env) -> "BrokerSettings":
        """Read RABBITMQ_URL (no password in it), the password secret and EVENT_QUEUES."""
        url = urlsplit(env.get("RABBITMQ_URL", "amqp://flotilla@rabbitmq:5672/%2F"))
        password = env.secret("RABBITMQ_PASSWORD", "rabbitmq-dev-password")
        host = f"{url.hostname}:{url.port}" if url.port else url.hostname
        netloc = f"{quote(url.username or 'flotilla', safe='')}:{quote(password, safe='')}@{host}"
        queues = event_queues(env.get("EVENT_QUEUES", ""))
        return cls(url=urlunsplit(url._replace(netloc=netloc)), queues=queues)


def event_queues(raw: str) -> dict[str, tuple[str, ...]]:
    """Parse "queue=type,type;queue=type" into {queue: (type, ...)}; raise on a bad entry."""
    queues = {}
    for entry in filter(None, (part.strip() for part in raw.split(";"))):
        queue, _, types = entry.partition("=")
        patterns = tuple(filter(None, (kind.strip() for kind in types.split(","))))
        if not queue.strip() or not patterns:
            raise ConfigError(f"EVENT_QUEUES: {entry!r} is not queue=type[,type...]")
        queues[queue.strip()] = patterns
    return queues


def connect(settings: BrokerSettings, *, name: str = "flotilla") -> pika.BlockingConnection:
    """Open a connection that fails fast instead of hanging when RabbitMQ is away."""
    parameters = pika.URLParameters(settings.url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = CONNECT_TIMEOUT_SECONDS
    parameters.blocked_connection_timeout = CONNECT_TIMEOUT_SECONDS * 2
    parameters.heartbeat = 30
    # Shown by the management UI and `rabbitmqctl list_connections`.
    parameters.client_properties = {"connection_name": name}
    return pika.BlockingConnection(parameters)


def declare_exchange(channel: Any) -> None:
    """Declare the durable topic exchange (idempotent)."""
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)


def declare_topology(channel: Any, queues: dict[str, tuple[str, ...]]) -> None:
    """Declare the exchanges and every consumer's queues (idempotent).

    A queue's arguments cannot change once it exists (RabbitMQ refuses the declaration), so
    relays and consumers declare them through declare_consumer_queues alone.
    """
    declare_exchange(channel)
    for queue, patterns in queues.items():
        declare_consumer_queues(channel, queue, patterns)


def declare_consumer_queues(channel: Any, queue: str, patterns: Iterable[str]) -> None:
    """Declare a consumer's queue bound to patterns, its retry queue and dead-letter queue."""
    declare_exchange(channel)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="direct", durable=True)
    _quorum_queue(channel, f"{queue}.dead")
    channel.queue_bind(f"{queue}.dead", DEAD_LETTER_EXCHANGE, routing_key=queue)
    _quorum_queue(
        channel, queue, dead_letter=(DEAD_LETTER_EXCHANGE, queue), delivery_limit=DELIVERY_LIMIT
    )
    for pattern in patterns:
        channel.queue_bind(queue, EXCHANGE, routing_key=pattern)
    # An expired retry goes back through the default exchange to this consumer's queue
    # alone: the other consumers of the event have had it already.
    _quorum_queue(channel, f"{queue}.retry", dead_letter=("", queue))


def _quorum_queue(
    channel: Any,
    name: str,
    *,
    dead_letter: tuple[str, str] | None = None,
    delivery_limit: int | None = None,
) -> None:
    arguments: dict[str, Any] = {"x-queue-type": "quorum"}
    if delivery_limit is not None:
        arguments["x-delivery-limit"] = delivery_limit
    if dead_letter:
        exchange, routing_key = dead_letter
        # At-least-once dead-lettering: a message is never dropped between two queues.
        arguments |= {
            "x-dead-letter-exchange": exchange,
            "x-dead-letter-routing-key": routing_key,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
    channel.queue_declare(name, durable=True, arguments=arguments)


def envelope(row: dict) -> dict:
    """Return an outbox row as it travels: API.md's envelope."""
    return {
        "id": str(row["id"]),
        "type": row["type"],
        "occurred_at": row["occurred_at"].isoformat(),
        "request_id": row["request_id"],
        "data": row["data"],
    }


def publish(channel: Any, event: dict) -> None:
    """Publish one event as a persistent message; with confirms on, returns once it is safe."""
    channel.basic_publish(
        exchange=EXCHANGE,
        routing_key=event["type"],
        body=json.dumps(event).encode(),
        properties=pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent,
            content_type="application/json",
            message_id=event["id"],
            headers={"request_id": event["request_id"]},
        ),
    )
