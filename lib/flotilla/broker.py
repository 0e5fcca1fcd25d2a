"""RabbitMQ: how every service reaches it, and the one topic exchange events go through.

Every event is published to EXCHANGE with its type as the routing key, as a persistent
JSON message whose body is the envelope of API.md: {id, type, occurred_at, request_id, data}.
"""

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pika

from flotilla.config import Env

EXCHANGE = "flotilla.events"
CONNECT_TIMEOUT_SECONDS = 5


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


def connect(settings: BrokerSettings) -> pika.BlockingConnection:
    """Open a connection that fails fast instead of hanging when RabbitMQ is away."""
    parameters = pika.URLParameters(settings.url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = CONNECT_TIMEOUT_SECONDS
    parameters.blocked_connection_timeout = CONNECT_TIMEOUT_SECONDS * 2
    parameters.heartbeat = 30
    return pika.BlockingConnection(parameters)


def declare_exchange(channel: Any) -> None:
    """Declare the durable topic exchange (idempotent)."""
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)


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
