"""Events as a consumer meets them: a registration through NGINX reaches RabbitMQ through
user-service's outbox, with its request id; a RabbitMQ outage delays events, loses none and
never fails a request."""

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import quote

import pika
import pika.exceptions
import pytest
import requests

from conftest import (
    BASE_URL,
    PASSWORD,
    TIMEOUT,
    container_of,
    wait_for_log,
)

EXCHANGE = "flotilla.events"
RABBITMQ_URL = "amqp://flotilla:{}@rabbitmq:5672/%2F".format(
    quote(os.environ.get("RABBITMQ_PASSWORD", "rabbitmq-dev-password"), safe="")
)
OUTAGE_SECONDS = 10
OUTAGE_WARNING = "RabbitMQ unavailable, events wait in the outbox"


class Listener:
    """A durable queue of the test bound to every event (`#`), read as a consumer would."""

    def __init__(self) -> None:
        self.queue = f"tests.events.{uuid.uuid4().hex}"
        self.received: list[tuple[pika.BasicProperties, dict]] = []
        self._connection: pika.BlockingConnection | None = None
        channel = self._channel()
        channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
        # Durable, so it outlives a RabbitMQ restart; it expires should the run be killed.
        channel.queue_declare(self.queue, durable=True, arguments={"x-expires": 600_000})
        channel.queue_bind(self.queue, EXCHANGE, routing_key="#")

    def _channel(self):
        if self._connection is None or self._connection.is_closed:
            self._connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
        return self._connection.channel()

    def events_for(self, user_ids: list[int], timeout: float = 30) -> list[tuple]:
        """Wait until a user.registered of each user arrived; return all of theirs."""
        deadline = time.monotonic() + timeout
        while not self._all_in(user_ids) and time.monotonic() < deadline:
            try:
                self._drain()
            except (pika.exceptions.AMQPError, OSError):
                self._connection = None  # RabbitMQ is restarting: try again shortly
            time.sleep(0.5)
        wanted = set(user_ids)
        return [
            (properties, event)
            for properties, event in self.received
            if event["type"] == "user.registered" and event["data"]["user_id"] in wanted
        ]

    def _drain(self) -> None:
        channel = self._channel()
        while True:
            method, properties, body = channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return
            self.received.append((properties, json.loads(body)))

    def _all_in(self, user_ids: list[int]) -> bool:
        seen = {
            e["data"].get("user_id") for _, e in self.received if e["type"] == "user.registered"
        }
        return set(user_ids) <= seen

    def close(self) -> None:
        """Delete the queue and close the connection."""
        self._channel().queue_delete(self.queue)
        self._connection.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    listening = Listener()
    yield listening
    listening.close()


def register(request_id: str | None = None) -> dict:
    """Register a new customer through NGINX; return the user document."""
    email = f"events-{uuid.uuid4().hex[:16]}@example.com"
    response = requests.post(
        f"{BASE_URL}/api/auth/register",
        json={"email": email, "password": PASSWORD, "name": "Eve Vents"},
        headers={"X-Request-ID": request_id} if request_id else {},
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_a_registration_is_published_with_the_request_that_caused_it(listener, stack):
    request_id = f"events-{uuid.uuid4().hex}"
    since = time.time() - 1
    user = register(request_id)

    [(properties, event)] = listener.events_for([user["id"]])
    assert event == {
        "id": event["id"],
        "type": "user.registered",
        "occurred_at": event["occurred_at"],
        "request_id": request_id,
        "data": {"user_id": user["id"], "email": user["email"], "name": "Eve Vents"},
    }
    assert uuid.UUID(event["id"])
    assert datetime.fromisoformat(event["occurred_at"]).tzinfo is not None
    assert properties.delivery_mode == 2  # persistent
    assert properties.message_id == event["id"]

    # The relay's log line joins the event to the request's own log lines.
    logs = wait_for_log([container_of(stack, "user-worker")], request_id, since)
    [published] = [
        json.loads(line)
        for line in logs.splitlines()
        if request_id in line and '"event published"' in line
    ]
    assert published["event_id"] == event["id"]


def _health() -> dict:
    return requests.get(f"{BASE_URL}/health", timeout=10).json()


def test_a_rabbitmq_outage_delays_events_but_loses_none(listener, stack):
    rabbitmq = container_of(stack, "rabbitmq")
    worker = container_of(stack, "user-worker")
    since = time.time() - 1
    rabbitmq.stop(timeout=10)
    try:
        users = []
        outage_ends = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < outage_ends:
            users.append(register())  # no request waits for RabbitMQ: the API works
            # /health does say RabbitMQ is away (notification-service's readiness): API.md.
            assert _health()["services"]["user-service"] == "ok"
            time.sleep(1)
        wait_for_log([worker], OUTAGE_WARNING, since)
    finally:
        rabbitmq.start()  # `docker stop` is not a crash: no restart policy brings it back

    received = listener.events_for([user["id"] for user in users], timeout=120)
    event_ids: dict[int, set[str]] = {}
    for _, event in received:
        event_ids.setdefault(event["data"]["user_id"], set()).add(event["id"])
    # Each user's one event arrived (at least once; a copy would carry the same id).
    assert sorted(event_ids) == sorted(user["id"] for user in users)
    assert all(len(ids) == 1 for ids in event_ids.values()), event_ids

    logs = wait_for_log([worker], "RabbitMQ reachable again", since)
    assert logs.count(OUTAGE_WARNING) == 1, "one warning per outage, not one per run"


def test_a_dropped_connection_is_reopened_without_calling_it_an_outage(listener, stack):
    worker = container_of(stack, "user-worker")
    since = time.time() - 1
    closed = container_of(stack, "rabbitmq").exec_run(
        ["rabbitmqctl", "close_all_connections", "closed by test_events"]
    )
    assert closed.exit_code == 0, closed.output
    user = register()
    assert listener.events_for([user["id"]])
    logs = wait_for_log([worker], "RabbitMQ connection lost, reconnecting", since)
    assert OUTAGE_WARNING not in logs
