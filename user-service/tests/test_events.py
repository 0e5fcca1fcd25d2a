"""user.registered is written with the user, and the relay publishes the outbox to the real
RabbitMQ: in order, confirmed, marked afterwards, at least once, patient through outages."""

import dataclasses
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator

import pika
import psycopg2
import pytest
from flask import Flask, g

from flotilla import relay
from flotilla.broker import (
    DEAD_LETTER_EXCHANGE,
    EXCHANGE,
    BrokerSettings,
    check_consumer_queues,
    check_exchange,
    connect,
)
from flotilla.config import ConfigError, Env
from flotilla.db import Database
from flotilla.outbox import add_event
from flotilla.relay import Relay, RelaySettings
from flotilla.worker import run_job
from flotilla_testing.metrics import scrape_worker, value

REGISTRATION = {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}


def outbox_rows(db: Database) -> list[dict]:
    with db.transaction() as cursor:
        cursor.execute("SELECT * FROM outbox ORDER BY seq")
        return cursor.fetchall()


def add_events(db: Database, kind: str, count: int) -> list[str]:
    """Write count events of a test-only type (no consumer is bound to it); return their ids."""
    with db.transaction() as cursor:
        return [add_event(cursor, type=kind, data={"n": n}) for n in range(count)]


# --- The event is part of the registration ------------------------------------------------


def test_registering_writes_one_user_registered_event(client, db):
    response = client.post(
        "/api/auth/register", json=REGISTRATION, headers={"X-Request-ID": "register-ada"}
    )
    assert response.status_code == 201
    user = response.json
    [row] = outbox_rows(db)
    assert row["type"] == "user.registered"
    assert row["data"] == {"user_id": user["id"], "email": "ada@example.com", "name": "Ada"}
    assert row["request_id"] == "register-ada"
    assert row["published_at"] is None


def test_a_failed_registration_writes_no_event(client, db, register):
    register(email=REGISTRATION["email"])
    for body, status in [
        (REGISTRATION, 409),  # the email is taken
        ({**REGISTRATION, "email": "someone-else@example.com", "password": "short"}, 422),
    ]:
        assert client.post("/api/auth/register", json=body).status_code == status
    assert len(outbox_rows(db)) == 1


@pytest.fixture
def outbox_refusing_events(db: Database) -> Iterator[None]:
    """The outbox rejects every new row, as a failing write in the transaction would."""
    with db.transaction() as cursor:
        cursor.execute("ALTER TABLE outbox ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
    yield
    with db.transaction() as cursor:
        cursor.execute("ALTER TABLE outbox DROP CONSTRAINT refuse_all")


def test_no_user_is_created_when_its_event_cannot_be_written(client, db, outbox_refusing_events):
    assert client.post("/api/auth/register", json=REGISTRATION).status_code == 500
    with db.transaction() as cursor:
        cursor.execute("SELECT count(*) AS n FROM users WHERE email = %s", (REGISTRATION["email"],))
        assert cursor.fetchone()["n"] == 0


def test_the_worker_serves_the_backlog_and_the_service_stays_ready(app, client, db):
    add_events(db, "test.backlog", 2)
    assert client.get("/readyz").status_code == 200
    assert value(scrape_worker(app), "outbox_pending") == 2


# --- The relay -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def settings() -> RelaySettings:
    return RelaySettings.from_env(Env())


@pytest.fixture
def relay_for(settings: RelaySettings) -> Iterator[Callable[..., Relay]]:
    """Make relays (user-worker's is paused by conftest), closed after the test."""
    made: list[Relay] = []

    def make(**changes) -> Relay:
        made.append(Relay(dataclasses.replace(settings, **changes), name="user-service tests"))
        return made[-1]

    yield make
    for each in made:
        each.close()


@pytest.fixture
def channel() -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    """A channel of the operator's: user-service's own user may publish, not read."""
    operator = BrokerSettings(url=os.environ["RABBITMQ_OPERATOR_URL"])
    connection = connect(operator, name="user-service tests")
    yield connection.channel()
    connection.close()


@pytest.fixture
def kind() -> str:
    """An event type of this test alone."""
    return f"test.{uuid.uuid4().hex}"


@pytest.fixture
def queue(channel, kind: str) -> str:
    """A queue of this test bound to its event type (deleted with the connection)."""
    name = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(name, EXCHANGE, routing_key=kind)
    return name


def receive(channel, queue: str, count: int, timeout: float = 10) -> list[tuple]:
    """Take count messages off a queue: (properties, envelope) each."""
    received: list[tuple] = []
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.1)
        else:
            received.append((properties, json.loads(body)))
    return received


def test_the_relay_publishes_in_order_and_marks_only_what_was_confirmed(
    app: Flask, db, relay_for, channel, queue, kind
):
    with app.test_request_context():
        g.request_id = "req-relay"
        first = add_events(db, kind, 1)
    ids = first + add_events(db, kind, 2)
    assert relay_for().run(db) == 3

    messages = receive(channel, queue, 3)
    assert [event["id"] for _, event in messages] == ids
    rows = {str(row["id"]): row for row in outbox_rows(db)}
    for properties, event in messages:
        row = rows[event["id"]]
        assert event == {
            "id": event["id"],
            "type": kind,
            "occurred_at": row["occurred_at"].isoformat(),
            "request_id": "req-relay" if event["id"] == first[0] else None,
            "data": row["data"],
        }
        assert properties.delivery_mode == pika.DeliveryMode.Persistent.value
        assert properties.content_type == "application/json"
        assert properties.message_id == event["id"]
        assert row["published_at"] is not None


def test_a_run_publishes_one_bounded_batch_over_one_kept_connection(
    db, relay_for, channel, queue, kind
):
    add_events(db, kind, 3)
    batching = relay_for(batch_size=2)
    assert batching.run(db) == 2
    connection = batching._connection
    assert batching.run(db) == 1
    assert batching.run(db) == 0
    assert batching._connection is connection and connection.is_open
    assert len(receive(channel, queue, 4, timeout=1)) == 3


def test_an_event_no_queue_is_bound_for_is_still_confirmed_and_marked(db, relay_for):
    add_events(db, f"test.unbound.{uuid.uuid4().hex}", 1)
    assert relay_for().run(db) == 1
    assert outbox_rows(db)[0]["published_at"] is not None


def test_while_rabbitmq_is_unreachable_events_wait_and_one_warning_is_logged(
    db, relay_for, settings, channel, queue, kind, caplog
):
    add_events(db, kind, 2)
    closed_port = dataclasses.replace(
        settings.broker, url=settings.broker.url.replace(":5672/", ":1/")
    )
    assert closed_port.url != settings.broker.url
    patient = relay_for(broker=closed_port)
    caplog.set_level(logging.DEBUG, logger="flotilla.relay")
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:  # the worker's rhythm: a run every half second
        assert patient.run(db) == 0
        time.sleep(0.1)
    relay_logs = [r for r in caplog.records if r.name == "flotilla.relay"]
    assert [r.message for r in relay_logs if r.levelno == logging.WARNING] == [
        "RabbitMQ unavailable, events wait in the outbox"
    ]
    assert sum(r.message == "RabbitMQ still unavailable" for r in relay_logs) >= 2
    assert all(row["published_at"] is None for row in outbox_rows(db))

    # RabbitMQ is back: the same relay reconnects after its backoff and catches up.
    patient.settings = settings
    deadline = time.monotonic() + 10
    while patient.run(db) == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(receive(channel, queue, 2)) == 2
    assert "RabbitMQ reachable again, relaying" in caplog.messages


KILLED_RELAY = """
from flotilla import relay
from user_service import create_app

app = create_app()
relay.start(app)
with app.app_context():
    relay.relay_outbox()
"""


def test_a_relay_killed_between_publish_and_mark_publishes_the_event_again(
    db, config, relay_for, channel, queue, kind
):
    [event_id] = add_events(db, kind, 1)
    # Our lock on the row holds the relay's mark back, so it dies after the confirm.
    holder = psycopg2.connect(config.database_url)
    killed = None
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT id FROM outbox WHERE id = %s FOR UPDATE", (event_id,))
        killed = subprocess.Popen([sys.executable, "-c", KILLED_RELAY])
        [(_, first)] = receive(channel, queue, 1, timeout=30)
        assert first["id"] == event_id
        wait_for_mark_to_block(db)
        killed.kill()
        killed.wait(timeout=10)
    finally:
        if killed and killed.poll() is None:
            killed.kill()
        holder.close()
    assert outbox_rows(db)[0]["published_at"] is None

    assert relay_for().run(db) == 1
    [(_, again)] = receive(channel, queue, 1)
    assert again == first  # the same event id: consumers drop the copy
    assert outbox_rows(db)[0]["published_at"] is not None


def wait_for_mark_to_block(db: Database, timeout: float = 10) -> None:
    """Wait until a relay's UPDATE of the outbox waits for a row lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.transaction() as cursor:
            cursor.execute(
                """
                SELECT count(*) AS n
                FROM pg_stat_activity
                WHERE wait_event_type = 'Lock'
                  AND query LIKE %(update)s
                """,
                {"update": "%UPDATE outbox%"},
            )
            if cursor.fetchone()["n"]:
                return
        time.sleep(0.1)
    pytest.fail("the killed relay never reached its mark")


def test_published_events_are_purged_after_the_retention(app, db, settings):
    old, recent, pending = add_events(db, "test.purge", 3)
    with db.transaction() as cursor:
        cursor.execute(
            """
            UPDATE outbox
            SET published_at = now() - make_interval(hours => %(hours)s)
            WHERE id = ANY(%(ids)s::uuid[])
            """,
            {"hours": settings.retention_hours + 1, "ids": [old]},
        )
        cursor.execute("UPDATE outbox SET published_at = now() WHERE id = %s", (recent,))
    relay.start(app)
    assert run_job(app, relay.PURGE_JOB) == 1
    assert sorted(str(row["id"]) for row in outbox_rows(db)) == sorted([recent, pending])


def test_the_consumer_queues_exist_before_any_consumer_started(settings):
    # The broker's definitions declare them at boot: an event relayed before
    # notification-worker's first start waits in its queue. The relay's own user sees them.
    connection = connect(settings.broker, name="user-service tests")
    try:
        channel = connection.channel()
        check_exchange(channel)
        check_consumer_queues(channel, "notification-service")
        channel.exchange_declare(DEAD_LETTER_EXCHANGE, passive=True)
    finally:
        connection.close()


@pytest.mark.parametrize(
    "env, error",
    [
        ({"OUTBOX_BATCH_SIZE": "0"}, "OUTBOX_BATCH_SIZE"),
        ({"OUTBOX_RETENTION_HOURS": "soon"}, "OUTBOX_RETENTION_HOURS"),
        ({"FLOTILLA_ENV": "production"}, "RABBITMQ_PASSWORD"),
    ],
)
def test_relay_settings_fail_fast(env, error):
    with pytest.raises(ConfigError, match=error):
        RelaySettings.from_env(Env(env))


def test_the_password_comes_from_a_secret_file(tmp_path):
    secret = tmp_path / "rabbitmq_password"
    secret.write_text("from-a-file\n")
    settings = BrokerSettings.from_env(Env({"RABBITMQ_PASSWORD_FILE": str(secret)}))
    assert settings.url == "amqp://flotilla:from-a-file@rabbitmq:5672/%2F"
