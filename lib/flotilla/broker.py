"""RabbitMQ: how every service reaches it, and the one topic exchange events go through.

Every event is published to EXCHANGE with its type as the routing key, as a persistent
JSON message whose body is the envelope of API.md. The exchanges, every consumer's queues
and their bindings are the operator's, declared by the broker's definitions at boot
(docs/events.md, "Queues"); services only check that what they use exists (a passive
declaration), so their RabbitMQ users need no right to configure anything.
"""

import contextlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pika
import pika.exceptions

from flotilla.config import Env

DEFAULT_USER = "flotilla"
EXCHANGE = "flotilla.events"
# Where a consumer's queue sends a message it gave up on, routed by the queue's name.
DEAD_LETTER_EXCHANGE = "flotilla.dead"
# Behind the consumers' own retries: a message whose handling kills the worker before it can
# answer comes back each time; after this many deliveries RabbitMQ dead-letters it.
DELIVERY_LIMIT = 20
CONNECT_TIMEOUT_SECONDS = 5
# What a lost connection, a refused login or a nacked message raise.
ERRORS = (pika.exceptions.AMQPError, OSError)

# Relays and consumers report an outage once; pika would log every failed attempt.
logging.getLogger("pika").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class BrokerSettings:
    """Where RabbitMQ is and as which user (RABBITMQ_URL, without the password)."""

    url: str

    @classmethod
    def from_env(cls, env: Env) -> "BrokerSettings":
        """Read RABBITMQ_URL and the password from RABBITMQ_PASSWORD or RABBITMQ_PASSWORD_FILE."""
        url = urlsplit(env.get("RABBITMQ_URL", f"amqp://{DEFAULT_USER}@rabbitmq:5672/%2F"))
        user = url.username or DEFAULT_USER
        # Development's password of each user (docker-compose.yml): production refuses them.
        dev = "rabbitmq-dev-password" if user == DEFAULT_USER else f"rabbitmq-{user}-dev-password"
        password = env.secret("RABBITMQ_PASSWORD", dev)
        host = f"{url.hostname}:{url.port}" if url.port else url.hostname
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
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


def close(connection: pika.BlockingConnection | None) -> None:
    """Close a connection if it is open, ignoring that it may be broken already."""
    if connection is not None and connection.is_open:
        with contextlib.suppress(*ERRORS):
            connection.close()


class Backoff:
    """A delay that doubles after each failure, up to a cap, and resets on success."""

    def __init__(self, first: float, most: float) -> None:
        self.first, self.most = first, most
        self.delay, self.until = first, 0.0

    def waiting(self) -> bool:
        """Whether the delay after the last failure is still running."""
        return time.monotonic() < self.until

    def failed(self) -> float:
        """Start the next delay; return its length in seconds."""
        self.until = time.monotonic() + self.delay
        waited, self.delay = self.delay, min(self.delay * 2, self.most)
        return waited

    def succeeded(self) -> None:
        """Start again from the first delay."""
        self.delay, self.until = self.first, 0.0


def check_exchange(channel: Any) -> None:
    """Raise unless the events exchange exists (a passive declaration: needs no rights)."""
    channel.exchange_declare(EXCHANGE, passive=True)


def check_consumer_queues(channel: Any, queue: str) -> None:
    """Raise unless a consumer's queues and retry exchange exist (passive: needs no rights)."""
    for name in (queue, f"{queue}.retry", f"{queue}.dead"):
        channel.queue_declare(name, passive=True)
    channel.exchange_declare(f"{queue}.retry", passive=True)


def declare_exchange(channel: Any) -> None:
    """Declare the durable topic exchange (idempotent; needs the right to configure it)."""
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)


def declare_consumer_queues(channel: Any, queue: str, patterns: Iterable[str]) -> None:
    """Declare a consumer's queues and exchanges as the broker's definitions do (operator only)."""
    declare_exchange(channel)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="direct", durable=True)
    channel.queue_declare(f"{queue}.dead", durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(f"{queue}.dead", DEAD_LETTER_EXCHANGE, routing_key=queue)
    arguments = {**_dead_lettered(DEAD_LETTER_EXCHANGE, queue), "x-delivery-limit": DELIVERY_LIMIT}
    channel.queue_declare(queue, durable=True, arguments=arguments)
    for pattern in patterns:
        channel.queue_bind(queue, EXCHANGE, routing_key=pattern)
    # An expired retry goes back through the default exchange to this consumer's queue
    # alone: the other consumers of the event have had it already.
    channel.queue_declare(f"{queue}.retry", durable=True, arguments=_dead_lettered("", queue))
    # The consumer's own way into its queues: retries to <queue>.retry, replays to <queue>.
    # Not the default exchange: the right to write to that reaches every queue.
    channel.exchange_declare(f"{queue}.retry", exchange_type="direct", durable=True)
    for target in (f"{queue}.retry", queue):
        channel.queue_bind(target, f"{queue}.retry", routing_key=target)


def _dead_lettered(exchange: str, routing_key: str) -> dict[str, Any]:
    # At-least-once dead-lettering: a message is never dropped between two queues.
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": exchange,
        "x-dead-letter-routing-key": routing_key,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
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
