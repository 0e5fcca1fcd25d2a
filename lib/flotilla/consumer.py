"""Consuming events: each consumer has a durable quorum queue bound on flotilla.events to the
event types it handles, and its service's worker feeds it (flotilla.worker).

An event is handled in one transaction of the service's database that also records its id
(processed_events), and acknowledged only after that commit: a redelivered event changes
nothing twice. A handler that fails is retried with backoff through `<queue>.retry` and,
after `max_attempts`, the event goes to `<queue>.dead`; a message that is not an event goes
there at once. Neither holds up the events behind it. While the database is away, events
wait unacknowledged, and no attempt is spent on them. A dead letter is replayed into its
consumer's queue alone, on a first attempt again (replay_dead_letters).

The queues are declared by the broker's definitions (flotilla.broker); a consumer only
checks that they exist. Its retries and replays go through its own exchange,
`<queue>.retry`, so its RabbitMQ user needs no right on any other consumer's queue, nor to
publish events.
"""

import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import psycopg2
import psycopg2.errors
from flask import Flask
from psycopg2.extras import RealDictCursor

from flotilla.broker import (
    BrokerSettings,
    check_consumer_queues,
    connect,
    declare_consumer_queues,
)
from flotilla.clients import resolves
from flotilla.db import get_db
from flotilla.logs import SANE_REQUEST_ID, request_id_scope

log = logging.getLogger(__name__)
# pika logs every connection it opens at INFO: the readiness check would flood the logs.
logging.getLogger("pika").setLevel(logging.WARNING)

# A service that consumes events lists this folder among its migrations.
MIGRATIONS = Path(__file__).parent / "migrations" / "consumer"
ATTEMPT_HEADER = "x-flotilla-attempt"
PREFETCH = 10
RESOLVE_TIMEOUT_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 30.0

Event = dict[str, Any]
Handler = Callable[[RealDictCursor, Event], None]


class InvalidEventError(Exception):
    """An event that no retry can handle (not an envelope, or data a handler cannot use)."""


@dataclass(frozen=True)
class Consumer:
    """A queue of the event types in `handlers`, each handled by handler(cursor, event)."""

    queue: str
    handlers: Mapping[str, Handler]
    max_attempts: int = 5
    first_retry_seconds: float = 1.0
    max_retry_seconds: float = 60.0

    @property
    def retry_queue(self) -> str:
        """Where a failed event waits for its next attempt."""
        return f"{self.queue}.retry"

    @property
    def retry_exchange(self) -> str:
        """The consumer's own exchange: routes to its retry queue and back to its queue."""
        return f"{self.queue}.retry"

    @property
    def dead_queue(self) -> str:
        """Where events end that could not be handled (the dead-letter queue)."""
        return f"{self.queue}.dead"

    def retry_delay(self, attempt: int) -> float:
        """Return the seconds to wait after failed attempt number `attempt` (from 1)."""
        return min(self.first_retry_seconds * 2 ** (attempt - 1), self.max_retry_seconds)


def declare(channel: Any, consumer: Consumer) -> None:
    """Declare a consumer's queues, bindings and dead-letter route (idempotent; an operator's
    rights: the broker's definitions declare the same)."""
    declare_consumer_queues(channel, consumer.queue, consumer.handlers)


def check_declared(channel: Any, consumer: Consumer) -> None:
    """Raise unless a consumer's queues and retry exchange exist (needs no rights)."""
    check_consumer_queues(channel, consumer.queue)


def parse_event(body: bytes, consumer: Consumer) -> Event:
    """Return the envelope in a message body; raise InvalidEventError when it is not one."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidEventError("not JSON") from None
    if not isinstance(event, dict):
        raise InvalidEventError("not a JSON object")
    try:
        uuid.UUID(str(event.get("id")))
    except ValueError:
        raise InvalidEventError("no UUID id") from None
    if event.get("type") not in consumer.handlers:
        raise InvalidEventError(f"unhandled type {event.get('type')!r}")
    if not isinstance(event.get("data"), dict):
        raise InvalidEventError("data is not an object")
    return event


def request_id_of(event: Event) -> str | None:
    """Return the id of the request that caused an event, if it carries a sane one."""
    request_id = event.get("request_id")
    if isinstance(request_id, str) and SANE_REQUEST_ID.fullmatch(request_id):
        return request_id
    return None


def handle_event(consumer: Consumer, event: Event) -> bool:
    """Handle an event and record its id in one transaction; False if it was handled before.

    Needs an app context (the service's database). A concurrent delivery of the same event
    waits on the id's row and then finds it recorded.
    """
    with get_db().transaction() as cursor:
        cursor.execute(
            """
            INSERT INTO processed_events (consumer, event_id)
            VALUES (%(consumer)s, %(event_id)s)
            ON CONFLICT DO NOTHING
            """,
            {"consumer": consumer.queue, "event_id": str(event["id"])},
        )
        if cursor.rowcount == 0:
            return False
        consumer.handlers[event["type"]](cursor, event)
    return True


def purge_processed_events(*, older_than_days: int) -> int:
    """Forget handled event ids older than the given age; return how many (a worker job)."""
    with get_db().transaction() as cursor:
        cursor.execute(
            """
            DELETE FROM processed_events
            WHERE processed_at < now() - make_interval(days => %(days)s)
            """,
            {"days": older_than_days},
        )
        return cursor.rowcount


def dead_letters(settings: BrokerSettings, consumer: Consumer) -> list[dict[str, Any]]:
    """Return what waits in a consumer's dead-letter queue, leaving it there."""
    connection = _connect(settings)
    try:
        channel = connection.channel()
        letters = []
        for _ in range(_depth(channel, consumer.dead_queue)):
            method, properties, body = channel.basic_get(consumer.dead_queue)
            if method is None:
                break
            letters.append(_described(properties, body))
        # Closing the channel hands back every message taken: nothing was acknowledged.
    finally:
        connection.close()
    return letters


def replay_dead_letters(settings: BrokerSettings, consumer: Consumer) -> int:
    """Move a consumer's dead letters back to its queue, each on its first attempt; return
    how many. Safe to repeat: processed_events drops an event handled already."""
    connection = _connect(settings)
    replayed = 0
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        # Only those there now: one that fails again comes back behind them, not in a loop.
        for _ in range(_depth(channel, consumer.dead_queue)):
            method, properties, body = channel.basic_get(consumer.dead_queue)
            if method is None:
                break
            # Published (and confirmed) before the ack: a crash in between repeats it.
            channel.basic_publish(
                exchange=consumer.retry_exchange,
                routing_key=consumer.queue,
                body=body,
                properties=pika.BasicProperties(
                    delivery_mode=pika.DeliveryMode.Persistent,
                    content_type=properties.content_type,
                    message_id=properties.message_id,
                    headers=_own_headers(properties),
                ),
                mandatory=True,
            )
            channel.basic_ack(method.delivery_tag)
            replayed += 1
    finally:
        connection.close()
    log.info("dead letters replayed", extra={"queue": consumer.queue, "replayed": replayed})
    return replayed


def dead_letter_depths(settings: BrokerSettings, consumers: Sequence[Consumer]) -> dict[str, int]:
    """Return how many messages wait in each consumer's dead-letter queue."""
    connection = _connect(settings)
    try:
        channel = connection.channel()
        return {c.dead_queue: _depth(channel, c.dead_queue) for c in consumers}
    finally:
        connection.close()


def _depth(channel: Any, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def _own_headers(properties: pika.BasicProperties) -> dict[str, Any]:
    """The message's headers without RabbitMQ's and ours (x-death, the attempt count)."""
    headers = properties.headers or {}
    return {name: value for name, value in headers.items() if not name.startswith("x-")}


def _described(properties: pika.BasicProperties, body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        event = None
    headers = properties.headers or {}
    return {
        "message_id": properties.message_id,
        "type": event.get("type") if isinstance(event, dict) else None,
        "attempt": headers.get(ATTEMPT_HEADER, 1),
        "reason": headers.get("x-first-death-reason"),
        "bytes": len(body),
    }


def broker_check(settings: BrokerSettings) -> Callable[[], None]:
    """Return a readiness check that raises unless RabbitMQ accepts our credentials."""

    def check() -> None:
        _connect(settings).close()

    return check


def _connect(settings: BrokerSettings) -> pika.BlockingConnection:
    # The socket timeouts do not cover the name lookup, which can take 10 s to fail for a
    # stopped container on a Compose network.
    parameters = pika.URLParameters(settings.url)
    if not resolves(parameters.host, parameters.port, RESOLVE_TIMEOUT_SECONDS):
        raise pika.exceptions.AMQPConnectionError(f"cannot resolve {parameters.host}")
    return connect(settings)


@dataclass
class _Delivery:
    consumer: Consumer
    tag: int
    properties: pika.BasicProperties
    body: bytes


class _Backoff:
    """A delay that doubles after each failure, up to a cap, and resets on success."""

    def __init__(self) -> None:
        self.delay = 1.0
        self.until = 0.0

    def waiting(self) -> bool:
        return time.monotonic() < self.until

    def failed(self) -> float:
        self.until = time.monotonic() + self.delay
        waited, self.delay = self.delay, min(self.delay * 2, MAX_BACKOFF_SECONDS)
        return waited

    def succeeded(self) -> None:
        self.delay, self.until = 1.0, 0.0


class ConsumerRunner:
    """Keeps one connection to RabbitMQ and handles its consumers' events, a slice at a time.

    The worker calls poll() between its jobs; when RabbitMQ is away, poll() only waits and
    reconnects with backoff, so the worker's jobs and heartbeat carry on.
    """

    def __init__(self, app: Flask, consumers: Sequence[Consumer], settings: BrokerSettings):
        self.app = app
        self.consumers = consumers
        self.settings = settings
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._received: deque[_Delivery] = deque()
        self._reconnect = _Backoff()
        self._database = _Backoff()  # the database is away: the first event waits

    def poll(self, seconds: float) -> None:
        """Handle what has arrived, waiting up to about `seconds` for more."""
        deadline = time.monotonic() + seconds
        if not self._connected():
            time.sleep(seconds)
            return
        try:
            ready = self._received and not self._database.waiting()
            self._connection.process_data_events(time_limit=0 if ready else seconds)
            while self._received and not self._database.waiting():
                self._handle(self._received[0])
                if time.monotonic() >= deadline:  # the worker's jobs get their turn
                    break
        except pika.exceptions.AMQPError as error:
            self._disconnect("RabbitMQ connection lost, reconnecting", error)
        except Exception as error:  # a bug here must not stop the worker's jobs
            log.exception("consumer failed")
            # Redelivered after the reconnect's backoff; one that fails like this every time
            # ends in the dead-letter queue after DELIVERY_LIMIT deliveries.
            self._disconnect("consumer reset, reconnecting", error)

    def close(self) -> None:
        """Close the connection; unacknowledged events go back to their queues."""
        self._disconnect(None, None)

    def _connected(self) -> bool:
        if self._channel is not None and self._channel.is_open:
            return True
        if self._reconnect.waiting():
            return False
        try:
            self._connection = _connect(self.settings)
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
            self._channel.basic_qos(prefetch_count=PREFETCH)
            for consumer in self.consumers:
                check_declared(self._channel, consumer)
                self._channel.basic_consume(consumer.queue, self._receiver(consumer))
        except (pika.exceptions.AMQPError, OSError) as error:
            self._disconnect("RabbitMQ unavailable, retrying", error)
            return False
        self._reconnect.succeeded()
        log.info("consuming", extra={"queues": [c.queue for c in self.consumers]})
        return True

    def _disconnect(self, message: str | None, error: Exception | None) -> None:
        # Events received but not acknowledged are delivered again after a reconnect.
        self._received.clear()
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):
                connection.close()
        if message:
            retry_in = self._reconnect.failed()
            log.warning(message, extra={"error": repr(error), "retry_in_seconds": retry_in})

    def _receiver(self, consumer: Consumer) -> Callable[..., None]:
        def receive(_channel: Any, method: Any, properties: Any, body: bytes) -> None:
            self._received.append(_Delivery(consumer, method.delivery_tag, properties, body))

        return receive

    def _handle(self, delivery: _Delivery) -> None:
        consumer = delivery.consumer
        try:
            event = parse_event(delivery.body, consumer)
        except InvalidEventError as error:
            self._dead_letter(delivery, str(error), attempt=None)
            return
        with self.app.app_context(), request_id_scope(request_id_of(event)):
            self._handle_event(delivery, event)

    def _handle_event(self, delivery: _Delivery, event: Event) -> None:
        consumer, attempt = delivery.consumer, _attempt(delivery.properties)
        about = {"queue": consumer.queue, "event_id": event["id"], "event_type": event["type"]}
        try:
            handled = handle_event(consumer, event)
        except InvalidEventError as error:
            self._dead_letter(delivery, str(error), attempt=attempt)
            return
        except psycopg2.OperationalError as error:  # flotilla.db: a lost connection too
            if not isinstance(error, psycopg2.errors.QueryCanceled):
                # Not the event's fault: it waits, unacknowledged, for the database.
                waiting = self._database.failed()
                log.warning(
                    "database unavailable, event waits",
                    extra={**about, "error": str(error).strip(), "retry_in_seconds": waiting},
                )
                return
            self._failed(delivery, attempt, about)
            return
        except Exception:  # a handler's bug or a bad event must not stop the others
            self._failed(delivery, attempt, about)
            return
        self._database.succeeded()
        self._channel.basic_ack(delivery.tag)
        self._received.popleft()
        log.info("event handled" if handled else "event already handled", extra=about)

    def _failed(self, delivery: _Delivery, attempt: int, about: dict) -> None:
        consumer = delivery.consumer
        if attempt >= consumer.max_attempts:
            log.exception("event failed", extra={**about, "attempt": attempt})
            self._dead_letter(delivery, "handler kept failing", attempt=attempt)
            return
        delay = consumer.retry_delay(attempt)
        log.exception(
            "event failed, retrying", extra={**about, "attempt": attempt, "retry_in_seconds": delay}
        )
        # RabbitMQ's own headers (x-death...) describe the old copy.
        headers = _own_headers(delivery.properties)
        # Published (and confirmed) before the ack: a crash in between repeats the event,
        # which processed_events turns into a no-op, rather than losing it.
        self._channel.basic_publish(
            exchange=consumer.retry_exchange,
            routing_key=consumer.retry_queue,
            body=delivery.body,
            properties=pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent,
                content_type=delivery.properties.content_type,
                message_id=delivery.properties.message_id,
                headers={**headers, ATTEMPT_HEADER: attempt + 1},
                expiration=str(int(delay * 1000)),
            ),
            mandatory=True,
        )
        self._channel.basic_ack(delivery.tag)
        self._received.popleft()

    def _dead_letter(self, delivery: _Delivery, reason: str, *, attempt: int | None) -> None:
        # Rejected without requeue: RabbitMQ moves it to <queue>.dead (the queue's DLX).
        self._channel.basic_reject(delivery.tag, requeue=False)
        self._received.popleft()
        log.error(
            "message dead-lettered",
            extra={
                "queue": delivery.consumer.dead_queue,
                "reason": reason,
                "attempt": attempt,
                "message_id": delivery.properties.message_id,
            },
        )


def _attempt(properties: pika.BasicProperties) -> int:
    value = (properties.headers or {}).get(ATTEMPT_HEADER, 1)
    return value if isinstance(value, int) and value >= 1 else 1
