"""flotilla.consumer against the real RabbitMQ and database: a throwaway consumer per test,
fed by a ConsumerRunner as the worker feeds it. Its queues are declared and used as the
operator (only the broker's definitions declare queues, and notification-service's own user
reaches notification-service's alone); tests/test_credentials.py tests the users' rights."""

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pika
import pika.exceptions
import pytest

from flotilla.broker import (
    EXCHANGE,
    BrokerSettings,
    check_consumer_queues,
    connect,
    declare_consumer_queues,
    publish,
)
from flotilla.consumer import (
    ATTEMPT_HEADER,
    Consumer,
    ConsumerRunner,
    InvalidEventError,
    dead_letter_depths,
    dead_letters,
    replay_dead_letters,
)
from flotilla.logs import JsonFormatter
from flotilla_testing.metrics import scrape_worker
from notification_service.events import CONSUMER


@dataclass
class Probe:
    """A consumer of one event type of its own, with its runner and what its handler saw."""

    consumer: Consumer
    runner: ConsumerRunner
    channel: pika.adapters.blocking_connection.BlockingChannel
    calls: list[tuple[str, int]] = field(default_factory=list)  # (event id, call number)

    @property
    def type(self) -> str:
        return next(iter(self.consumer.handlers))

    def event(self, request_id: str = "probe-request", **data) -> dict:
        return {
            "id": str(uuid.uuid4()),
            "type": self.type,
            "occurred_at": "2026-01-01T00:00:00+00:00",
            "request_id": request_id,
            "data": data,
        }

    def publish(self, event: dict) -> None:
        publish(self.channel, event)

    def publish_raw(self, body: bytes) -> None:
        self.channel.basic_publish(EXCHANGE, self.type, body)

    def handled(self, event: dict) -> int:
        return sum(1 for event_id, _ in self.calls if event_id == event["id"])

    def run_until(self, condition: Callable[[], bool], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            self.runner.poll(0.1)

    def ready(self, queue: str) -> int:
        return self.channel.queue_declare(queue, passive=True).method.message_count

    def dead(self) -> list[bytes]:
        """Take every message out of the dead-letter queue."""
        bodies = []
        while True:
            method, _, body = self.channel.basic_get(self.consumer.dead_queue, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(body)


@pytest.fixture(scope="module")
def operator() -> BrokerSettings:
    return BrokerSettings(url=os.environ["RABBITMQ_OPERATOR_URL"])


@pytest.fixture
def channel(operator) -> Iterator:
    connection = connect(operator)
    channel = connection.channel()
    channel.confirm_delivery()
    yield channel
    connection.close()


@pytest.fixture
def make_probe(app, operator, channel) -> Iterator[Callable[..., Probe]]:
    """Build probes; their queues are deleted afterwards."""
    made: list[Probe] = []

    def make(app_=None, **options) -> Probe:
        name = f"probe-{uuid.uuid4().hex[:10]}"
        probe: Probe

        def handler(cursor, event):
            calls = probe.handled(event) + 1
            probe.calls.append((event["id"], calls))
            logging.getLogger("probe").info("handler ran")
            cursor.execute("SELECT 1")
            behaviour = event["data"].get("fail", 0)
            if behaviour == "invalid":
                raise InvalidEventError("bad data")
            if behaviour == "always" or calls <= behaviour:
                raise RuntimeError("handler failed")

        consumer = Consumer(
            name,
            {f"{name}.happened": handler},
            **{"max_attempts": 3, "first_retry_seconds": 0.2, "max_retry_seconds": 0.4, **options},
        )
        # As the broker's definitions declare a consumer's queues.
        declare_consumer_queues(channel, consumer.queue, consumer.handlers)
        probe = Probe(consumer, ConsumerRunner(app_ or app, [consumer], operator), channel)
        probe.run_until(lambda: probe.runner._channel is not None)
        made.append(probe)
        return probe

    yield make
    for probe in made:
        probe.runner.close()
        for queue in (probe.consumer.queue, probe.consumer.retry_queue, probe.consumer.dead_queue):
            channel.queue_delete(queue)
        channel.exchange_delete(probe.consumer.retry_queue)  # its exchange


def test_an_event_is_handled_once_however_often_it_is_delivered(make_probe, db, caplog):
    probe = make_probe()
    event = probe.event()
    probe.publish(event)
    probe.publish(event)
    with caplog.at_level(logging.INFO, logger="flotilla.consumer"):
        probe.run_until(lambda: "event already handled" in caplog.messages)
    assert probe.handled(event) == 1
    assert probe.ready(probe.consumer.queue) == 0
    with db.transaction() as cursor:
        cursor.execute(
            "SELECT count(*) AS n FROM processed_events WHERE consumer = %s AND event_id = %s",
            (probe.consumer.queue, event["id"]),
        )
        assert cursor.fetchone()["n"] == 1


def test_a_failing_event_is_retried_with_backoff(make_probe):
    probe = make_probe()
    event = probe.event(fail=2)  # fails twice, then works
    started = time.monotonic()
    probe.publish(event)
    probe.run_until(lambda: probe.handled(event) == 3)
    # Waited 0.2 s after the first failure and 0.4 s after the second.
    assert time.monotonic() - started >= 0.6
    probe.run_until(lambda: probe.ready(probe.consumer.queue) == 0)
    assert probe.dead() == []


def test_an_event_that_keeps_failing_is_dead_lettered_and_later_events_go_on(make_probe):
    probe = make_probe()
    failing, later = probe.event(fail="always"), probe.event()
    probe.publish(failing)
    probe.publish(later)
    probe.run_until(lambda: probe.handled(failing) == 3 and probe.handled(later) == 1)
    probe.run_until(lambda: probe.ready(probe.consumer.dead_queue) == 1)
    [dead] = probe.dead()
    assert json.loads(dead)["id"] == failing["id"]
    assert probe.ready(probe.consumer.retry_queue) == 0


def test_data_no_retry_can_use_is_dead_lettered_at_once(make_probe):
    probe = make_probe()
    event = probe.event(fail="invalid")
    probe.publish(event)
    probe.run_until(lambda: probe.ready(probe.consumer.dead_queue) == 1)
    assert probe.handled(event) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"type": "x", "data": {}}',
        b'{"id": "not-a-uuid", "data": {}}',
        b'{"id": "6c1f8a56-3d36-4a40-9d7c-2d7fd3f0a001", "type": "other.type", "data": {}}',
        b'{"id": "6c1f8a56-3d36-4a40-9d7c-2d7fd3f0a001", "type": "TYPE", "data": []}',
    ],
)
def test_a_poison_message_goes_straight_to_the_dead_letter_queue(make_probe, body):
    probe = make_probe()
    body = body.replace(b"TYPE", probe.type.encode())
    probe.publish_raw(body)
    later = probe.event()
    probe.publish(later)
    probe.run_until(lambda: probe.handled(later) == 1)
    # At-least-once dead-lettering moves the message a moment after the consumer rejects it.
    dead: list[bytes] = []
    probe.run_until(lambda: bool(dead.extend(probe.dead()) or dead))
    assert dead == [body]
    assert len(probe.calls) == 1


def test_while_the_database_is_away_an_event_waits_without_spending_attempts(
    make_probe, app_with, config
):
    no_database = app_with(database_url=config.database_url.replace("@postgres:", "@127.0.0.1:1"))
    waiting = make_probe(no_database)
    event = waiting.event()
    waiting.publish(event)
    waiting.run_until(lambda: len(waiting.runner._received) == 1)
    for _ in range(10):
        waiting.runner.poll(0.1)
    assert waiting.runner._received  # held, unacknowledged: not retried, not dead-lettered
    assert waiting.ready(waiting.consumer.retry_queue) == 0
    assert waiting.ready(waiting.consumer.dead_queue) == 0
    waiting.runner.close()  # it goes back to its queue, on its first attempt still
    deadline = time.monotonic() + 10
    while waiting.ready(waiting.consumer.queue) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    _, properties, body = waiting.channel.basic_get(waiting.consumer.queue, auto_ack=True)
    assert json.loads(body)["id"] == event["id"]
    assert ATTEMPT_HEADER not in (properties.headers or {})
    assert waiting.calls == []


def test_log_lines_while_handling_an_event_carry_its_request_id(make_probe):
    lines: list[dict] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(self.format(record)))

    capture = Capture()
    capture.setFormatter(JsonFormatter("test"))
    logging.getLogger().addHandler(capture)
    try:
        probe = make_probe()
        probe.publish(probe.event(request_id="req-from-nginx", fail=1))
        probe.run_until(lambda: len(probe.calls) == 2)
    finally:
        logging.getLogger().removeHandler(capture)
    messages = {line["message"]: line.get("request_id") for line in lines}
    for message in ("handler ran", "event failed, retrying", "event handled"):
        assert messages[message] == "req-from-nginx", message


def test_the_queues_are_durable_quorum_queues(make_probe, channel):
    probe = make_probe()
    # The same declaration again: accepted.
    declare_consumer_queues(channel, probe.consumer.queue, probe.consumer.handlers)
    for queue in (probe.consumer.queue, probe.consumer.retry_queue, probe.consumer.dead_queue):
        # Declared as anything else, it is refused: it exists as declared.
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="inequivalent arg"):
            other = channel.connection.channel()
            other.queue_declare(queue, durable=True, arguments={"x-queue-type": "classic"})


def test_without_rabbitmq_the_runner_waits_and_retries_with_backoff(app, config, caplog):
    away = type(config.broker)(url="amqp://flotilla:x@127.0.0.1:1/%2F")
    runner = ConsumerRunner(app, [Consumer("never", {"x.y": lambda c, e: None})], away)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="flotilla.consumer"):
        for _ in range(10):
            runner.poll(0.1)  # never raises
    assert time.monotonic() - started < 3
    # One attempt, then it waits out its backoff instead of trying on every poll.
    assert caplog.messages.count("RabbitMQ unavailable, retrying") == 1


def test_the_broker_definitions_declare_the_consumer_queues_as_the_lib_does(channel, config):
    # RabbitMQ refuses a queue declared again with other arguments: rabbitmq/definitions.sh
    # declared these at boot, and the lib's declaration of them is accepted.
    declare_consumer_queues(channel, CONSUMER.queue, CONSUMER.handlers)
    # The consumer's own user finds them (it could not declare them).
    connection = connect(config.broker)
    try:
        check_consumer_queues(connection.channel(), CONSUMER.queue)
    finally:
        connection.close()


def test_a_replayed_dead_letter_starts_again_at_its_first_attempt(make_probe, operator):
    probe = make_probe()
    event = probe.event(fail=4)  # three attempts fail: dead-lettered; the fourth call works
    probe.publish(event)
    probe.run_until(lambda: probe.ready(probe.consumer.dead_queue) == 1)
    assert probe.handled(event) == 3

    assert replay_dead_letters(operator, probe.consumer) == 1
    # Its fourth call fails on the replay's first attempt, and is retried: not dead again.
    probe.run_until(lambda: probe.handled(event) == 5)
    probe.run_until(lambda: probe.ready(probe.consumer.queue) == 0)
    assert probe.ready(probe.consumer.dead_queue) == 0
    assert probe.ready(probe.consumer.retry_queue) == 0
    assert replay_dead_letters(operator, probe.consumer) == 0


def test_listing_dead_letters_leaves_them_there(make_probe, operator):
    probe = make_probe()
    poison = probe.event(fail="invalid")
    probe.publish(poison)
    probe.run_until(lambda: probe.ready(probe.consumer.dead_queue) == 1)
    # Many times over: RabbitMQ drops a quorum queue's message returned too often.
    for _ in range(25):
        [letter] = dead_letters(operator, probe.consumer)
    assert letter["message_id"] == poison["id"] and letter["type"] == probe.type
    assert dead_letter_depths(operator, [probe.consumer]) == {probe.consumer.dead_queue: 1}


def test_the_dead_letter_depth_is_in_the_worker_s_metrics(app):
    scrape = scrape_worker(app)
    assert ("flotilla_dead_letters", frozenset({("queue", "notification-service.dead")})) in scrape


def test_one_command_lists_and_replays_the_dead_letters():
    command = [sys.executable, "-m", "notification_service", "dead-letters"]
    for extra in ([], ["--replay"]):
        done = subprocess.run(
            command + extra, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        assert any(line.startswith(f"{CONSUMER.dead_queue}: ") for line in done.stdout.splitlines())
