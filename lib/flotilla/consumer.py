"""Consuming events (docs/events.md, "Consumers"): a consumer's queue, fed by its service's
worker (flotilla.worker), each event handled once in a transaction that records its id in
processed_events, retried through `<queue>.retry`, dead-lettered into `<queue>.dead`.

The queues are the broker's definitions (flotilla.broker); a consumer only checks that they
exist, and its retries and replays go through its own exchange `<queue>.retry`, so its
RabbitMQ user needs no right on another consumer's queues, nor to publish events.
"""

import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import psycopg2
import psycopg2.errors
from flask import Flask
from psycopg2.extras import RealDictCursor

from flotilla import broker
from flotilla.broker import BrokerSettings
from flotilla.clients import resolves
from flotilla.db import get_db
from flotilla.logs import SANE_REQUEST_ID, request_id_scope

log = logging.getLogger(__name__)

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
        """Where a failed event waits; also the name of the consumer's own exchange."""
        return f"{self.queue}.retry"

    @property
    def dead_queue(self) -> str:
        """Where events end that could not be handled (the dead-letter queue)."""
        return f"{self.queue}.dead"


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
    """Handle an event and record its id in one transaction; False if it was handled before."""
    # A concurrent delivery of the same event waits on the id's row, then finds it recorded.
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


@dataclass
class _Delivery:
    consumer: Consumer
    tag: int
    properties: pika.BasicProperties
    body: bytes


def dead_letters(settings: BrokerSettings, consumer: Consumer) -> list[dict[str, Any]]:
    """Return what waits in a consumer's dead-letter queue, leaving it there."""
    with _connect(settings) as connection:
        channel = connection.channel()
        letters = [_described(letter) for letter in _take_all(channel, consumer)]
        # Handed back before answering, so that a listing right after this one finds them all
        # again: a quorum queue counts them as waiting a moment after the nack (bounded).
        channel.basic_nack(multiple=True, requeue=True)
        back_by = time.monotonic() + 5
        while _depth(channel, consumer.dead_queue) < len(letters) and time.monotonic() < back_by:
            time.sleep(0.05)
        channel.close()
        return letters


def replay_dead_letters(settings: BrokerSettings, consumer: Consumer) -> int:
    """Move a consumer's dead letters back to its queue on a first attempt; return how many."""
    replayed = 0
    with _connect(settings) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        for letter in _take_all(channel, consumer):
            _publish_copy(channel, letter, consumer.queue)
            channel.basic_ack(letter.tag)
            replayed += 1
    log.info("dead letters replayed", extra={"queue": consumer.queue, "replayed": replayed})
    return replayed


def dead_letter_depths(settings: BrokerSettings, consumers: Sequence[Consumer]) -> dict[str, int]:
    """Return how many messages wait in each consumer's dead-letter queue."""
    with _connect(settings) as connection:
        channel = connection.channel()
        return {c.dead_queue: _depth(channel, c.dead_queue) for c in consumers}


def _depth(channel: Any, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def _take_all(channel: Any, consumer: Consumer) -> Iterator[_Delivery]:
    # Only those there now: a replayed one that fails again comes back behind them, not in a loop.
    for _ in range(_depth(channel, consumer.dead_queue)):
        method, properties, body = channel.basic_get(consumer.dead_queue)
        if method is None:
            return
        yield _Delivery(consumer, method.delivery_tag, properties, body)


def _publish_copy(
    channel: Any, delivery: _Delivery, to: str, *, attempt: int = 0, delay: float | None = None
) -> None:
    # Through the consumer's own exchange, confirmed before the original is acknowledged: a
    # crash in between repeats the event, which processed_events turns into a no-op, rather
    # than losing it. Without the x- headers (RabbitMQ's x-death, our attempt count): they
    # describe the old copy.
    properties = delivery.properties
    headers = {k: v for k, v in (properties.headers or {}).items() if not k.startswith("x-")}
    if attempt:
        headers[ATTEMPT_HEADER] = attempt
    channel.basic_publish(
        exchange=delivery.consumer.retry_queue,
        routing_key=to,
        body=delivery.body,
        properties=pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent,
            content_type=properties.content_type,
            message_id=properties.message_id,
            headers=headers,
            expiration=None if delay is None else str(int(delay * 1000)),
        ),
        mandatory=True,
    )


def _described(letter: _Delivery) -> dict[str, Any]:
    try:
        event = json.loads(letter.body)
    except (ValueError, UnicodeDecodeError):
        event = None
    headers = letter.properties.headers or {}
    return {
        "message_id": letter.properties.message_id,
        "type": event.get("type") if isinstance(event, dict) else None,
        "attempt": headers.get(ATTEMPT_HEADER, 1),
        "reason": headers.get("x-first-death-reason"),
        "bytes": len(letter.body),
    }


def broker_check(settings: BrokerSettings) -> Callable[[], None]:
    """Return a readiness check that raises unless RabbitMQ accepts our credentials."""
    return lambda: _connect(settings).close()


def _connect(settings: BrokerSettings) -> pika.BlockingConnection:
    # The socket timeouts do not cover the name lookup, which fails only when the resolver
    # gives up for a stopped container on an internal network (flotilla.clients.resolves).
    parameters = pika.URLParameters(settings.url)
    if not resolves(parameters.host, parameters.port, RESOLVE_TIMEOUT_SECONDS):
        raise pika.exceptions.AMQPConnectionError(f"cannot resolve {parameters.host}")
    return broker.connect(settings)


class ConsumerRunner:
    """One connection to RabbitMQ feeding its consumers; the worker polls it between its jobs."""

    def __init__(self, app: Flask, consumers: Sequence[Consumer], settings: BrokerSettings):
        self.app = app
        self.consumers = consumers
        self.settings = settings
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._received: deque[_Delivery] = deque()
        self._reconnect = broker.Backoff(1.0, MAX_BACKOFF_SECONDS)
        self._database = broker.Backoff(1.0, MAX_BACKOFF_SECONDS)  # away: the first event waits

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
                broker.check_consumer_queues(self._channel, consumer.queue)
                self._channel.basic_consume(consumer.queue, partial(self._receive, consumer))
        except broker.ERRORS as error:
            self._disconnect("RabbitMQ unavailable, retrying", error)
            return False
        self._reconnect.succeeded()
        log.info("consuming", extra={"queues": [c.queue for c in self.consumers]})
        return True

    def _disconnect(self, message: str | None, error: Exception | None) -> None:
        # Events received but not acknowledged are delivered again after a reconnect.
        self._received.clear()
        broker.close(self._connection)
        self._connection = self._channel = None
        if message:
            retry_in = self._reconnect.failed()
            log.warning(message, extra={"error": repr(error), "retry_in_seconds": retry_in})

    def _receive(
        self, consumer: Consumer, _channel: Any, method: Any, properties: Any, body: bytes
    ) -> None:
        self._received.append(_Delivery(consumer, method.delivery_tag, properties, body))

    def _handle(self, delivery: _Delivery) -> None:
        consumer = delivery.consumer
        try:
            event = parse_event(delivery.body, consumer)
        except InvalidEventError as error:
            self._dead_letter(delivery, str(error), attempt=None)
            return
        attempt = _attempt(delivery.properties)
        about = {"queue": consumer.queue, "event_id": event["id"], "event_type": event["type"]}
        with self.app.app_context(), request_id_scope(request_id_of(event)):
            try:
                handled = handle_event(consumer, event)
            except InvalidEventError as error:
                self._dead_letter(delivery, str(error), attempt=attempt)
            except psycopg2.errors.QueryCanceled:  # a statement timeout: the event's own failure
                self._failed(delivery, attempt, about)
            except psycopg2.OperationalError as error:  # flotilla.db: a lost connection too
                # Not the event's fault: it waits, unacknowledged, for the database.
                waiting = self._database.failed()
                log.warning(
                    "database unavailable, event waits",
                    extra={**about, "error": str(error).strip(), "retry_in_seconds": waiting},
                )
            except Exception:  # a handler's bug or a bad event must not stop the others
                self._failed(delivery, attempt, about)
            else:
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
        delay = min(consumer.first_retry_seconds * 2 ** (attempt - 1), consumer.max_retry_seconds)
        log.exception(
            "event failed, retrying", extra={**about, "attempt": attempt, "retry_in_seconds": delay}
        )
        _publish_copy(
            self._channel, delivery, consumer.retry_queue, attempt=attempt + 1, delay=delay
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
