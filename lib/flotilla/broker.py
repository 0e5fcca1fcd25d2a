"""RabbitMQ: how every service reaches it, and the one topic exchange events go through.

Every event is published to EXCHANGE with its type as the routing key, as a persistent
JSON message whose body is the envelope of API.md: {id, type, occurred_at, request_id, data}.

A topic exchange drops a message that no queue is bound for: that is how it works, not a
failure, so the relay's confirm says only that RabbitMQ took the message. A consumer gets
the events published after its queue exists; that is why every consumer's queue is declared
by declare_topology, which the relay runs on every connection before it publishes and the
consumers run too: the queues exist from the first start of any publisher.
"""

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pika

from flotilla.config import Env

EXCHANGE = "flotilla.events"
# Where a consumer's queue sends a message it gave up on, routed by the queue's name.
DEAD_LETTER_EXCHANGE = "flotilla.dead"
# Each consumer's queue and the event types (topic patterns) it is bound to.
QUEUES: dict[str, tuple[str, ...]] = {
    "notification-service": ("user.registered", "order.*"),
}
# Deliveries of one message before a quorum queue dead-letters it instead of redelivering.
DELIVERY_LIMIT = 5
CONNECT_TIMEOUT_SECONDS = 5

# Relays and consumers report an outage once; pika would log every failed attempt.
logging.getLogger("pika").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class BrokerSettings:
    """Where RabbitMQ is, with the password from RABBITMQ_PASSWORD or RABBITMQ_PASSWORD_FILE."""

    url: str

    @classmethod
    def from_env(cls, env: Env) -> "BrokerSettings":
        """Read RABBITMQ_URL (no password in it) and the password secret."""
        url = urlsplit(env.get("RABBITMQ_URL", "amqp://flotilla@rabbitmq:5672/%2F"))
        password = env.secret("RABBITMQ_PASSWORD", "rabbitmq-dev-password")
        host = f"{url.hostname}:{url.port}" if url.port else url.hostname
        netloc = f"{quote(url.username or 'flotilla', safe='')}:{quote(password, safe='')}@{host}"
        return cls(url=urlunsplit(url._replace(netloc=netloc)))


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


def declare_topology(channel: Any) -> None:
    """Declare the exchanges and every consumer's queue with its dead-letter queue (idempotent).

    A queue's arguments cannot change once it exists (RabbitMQ refuses the declaration), so
    publishers and consumers declare them from this one place.
    """
    declare_exchange(channel)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="direct", durable=True)
    for queue, patterns in QUEUES.items():
        dead = f"{queue}.dead"
        channel.queue_declare(dead, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(dead, DEAD_LETTER_EXCHANGE, routing_key=queue)
        channel.queue_declare(queue, durable=True, arguments=queue_arguments(queue))
        for pattern in patterns:
            channel.queue_bind(queue, EXCHANGE, routing_key=pattern)


def queue_arguments(queue: str) -> dict[str, Any]:
    """Return a consumer queue's arguments: quorum, dead-lettered after DELIVERY_LIMIT tries."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": queue,
    }


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
