"""RabbitMQ: how every service reaches it, and the one topic exchange events go through.

Every event is published to EXCHANGE with its type as the routing key, as a persistent
JSON message whose body is the envelope of API.md: {id, type, occurred_at, request_id, data}.

A topic exchange drops a message that no queue is bound for: that is how it works, not a
failure, so the relay's confirm says only that RabbitMQ took the message. A consumer gets
the events published after its queue exists; that is why the exchanges, every consumer's
queues and their bindings are the operator's: declared by the broker's definitions when it
boots (as declare_consumer_queues declares them), before any service connects. Services
only check that what they use exists (a passive declaration, which needs no rights), so
each one's RabbitMQ user needs no right to configure anything: a publisher may write to
EXCHANGE, a consumer read its queues and write to its own retry exchange.
"""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pika

from flotilla.config import Env

DEFAULT_USER = "flotilla"
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
    """Where RabbitMQ is and as which user, with the password from RABBITMQ_PASSWORD or
    RABBITMQ_PASSWORD_FILE."""

    url: str

    @classmethod
    def from_env(cls, env: Env) -> "BrokerSettings":
        """Read RABBITMQ_URL (no password in it) and the password secret."""
        url = urlsplit(env.get("RABBITMQ_URL", f"amqp://{DEFAULT_USER}@rabbitmq:5672/%2F"))
        user = url.username or DEFAULT_USER
        password = env.secret("RABBITMQ_PASSWORD", _dev_password(user))
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


def _dev_password(user: str) -> str:
    # Development's password of each user (docker-compose.yml): production refuses them.
    return "rabbitmq-dev-password" if user == DEFAULT_USER else f"rabbitmq-{user}-dev-password"


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
    """Declare a consumer's queue bound to patterns, its retry queue, retry exchange and
    dead-letter queue (idempotent): what the broker's definitions declare for each consumer.

    A queue's arguments cannot change once it exists (RabbitMQ refuses the declaration), so
    this and the definitions must agree; it needs an operator's rights.
    """
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
    # The consumer's own way into its queues: retries to <queue>.retry, replays to <queue>.
    # Not the default exchange: the right to write to that reaches every queue.
    channel.exchange_declare(f"{queue}.retry", exchange_type="direct", durable=True)
    for target in (f"{queue}.retry", queue):
        channel.queue_bind(target, f"{queue}.retry", routing_key=target)


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
