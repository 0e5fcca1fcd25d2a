"""flotilla.relay against the real PostgreSQL and RabbitMQ, on an outbox in a schema of the
test's own (no service's worker relays or purges it): a relay killed between RabbitMQ's
confirm and its mark, the purge's pace, and the backlog's gauges."""

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask

from flotilla import outbox, relay
from flotilla.broker import EXCHANGE, BrokerSettings, connect, declare_exchange
from flotilla.config import Env
from flotilla.db import Database, migrate
from flotilla.worker import run_job
from flotilla_testing.metrics import scrape_worker, value

# Events a second at which the purge must keep up, with this margin.
EVENTS_PER_SECOND = 100
MARGIN = 3

KILLED_RELAY = """
import sys
from flask import Flask
from flotilla import relay
from flotilla.db import Database

app = Flask("killed-relay")
app.config["SERVICE_NAME"] = "lib-tests"
Database(sys.argv[1]).init_app(app)
relay.start(app)
with app.app_context():
    relay.relay_outbox()
"""


@pytest.fixture
def schema_url(db_url: str, db: Database) -> Iterator[str]:
    """The URL of the database with an outbox in a schema of this test's own."""
    schema = f"relay_{uuid.uuid4().hex[:10]}"
    with db.transaction() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{db_url}?options=-csearch_path%3D{schema}"
    migrate(url, outbox.MIGRATIONS)
    yield url
    with db.transaction() as cursor:
        cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def app(schema_url: str) -> Iterator[Flask]:
    app = Flask("relay-tests")
    app.config["SERVICE_NAME"] = "lib-tests"
    database = Database(schema_url)
    database.init_app(app)
    relay.start(app)
    yield app
    app.extensions["flotilla.relay"].close()
    database.close()


@pytest.fixture
def channel() -> Iterator:
    connection = connect(BrokerSettings.from_env(Env()))
    channel = connection.channel()
    declare_exchange(channel)
    yield channel
    connection.close()


@pytest.fixture
def kind(channel) -> Iterator[str]:
    """An event type of this test's own, with a queue that receives it."""
    kind = f"relay-test.{uuid.uuid4().hex[:10]}"
    channel.queue_declare(kind, arguments={"x-expires": 300_000})
    channel.queue_bind(kind, EXCHANGE, routing_key=kind)
    yield kind
    channel.queue_delete(kind)


def add_events(app: Flask, kind: str, count: int) -> list[str]:
    with app.app_context(), app.extensions["flotilla.db"].transaction() as cursor:
        return [outbox.add_event(cursor, type=kind, data={"n": n}) for n in range(count)]


def received(channel, queue: str, count: int, timeout: float = 15) -> list[tuple[str, str]]:
    """Wait for count messages; return each one's (message id, event id)."""
    messages: list[tuple[str, str]] = []
    deadline = time.monotonic() + timeout
    while len(messages) < count and time.monotonic() < deadline:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.1)
            continue
        messages.append((properties.message_id, json.loads(body)["id"]))
    return messages


def published(app: Flask) -> dict[str, bool]:
    with app.app_context(), app.extensions["flotilla.db"].transaction() as cursor:
        cursor.execute("SELECT id::text, published_at IS NOT NULL AS done FROM outbox ORDER BY seq")
        return {row["id"]: row["done"] for row in cursor.fetchall()}


def test_a_relay_killed_between_the_confirm_and_the_mark_publishes_the_event_again(
    app, schema_url, channel, kind
):
    first, second = add_events(app, kind, 2)
    environ = {**os.environ, "FAULT_INJECTION": "true", "FAULT_AT": "relay.after-confirm"}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RELAY, schema_url], env=environ, timeout=60, check=False
    )
    assert killed.returncode == -9  # SIGKILL at the crash point
    # RabbitMQ confirmed the first event; the relay died before marking it.
    assert received(channel, kind, 1) == [(first, first)]
    assert published(app) == {first: False, second: False}

    with app.app_context():
        assert relay.relay_outbox() == 2
    # The first again, with the same id (consumers drop the copy), then the second: none lost.
    assert received(channel, kind, 2) == [(first, first), (second, second)]
    assert published(app) == {first: True, second: True}
    assert channel.queue_declare(kind, passive=True).method.message_count == 0


def test_the_backlog_is_the_worker_s_outbox_gauges(app):
    outbox.init_app(app)
    assert value(scrape_worker(app), "outbox_pending") == 0
    add_events(app, "relay-test.backlog", 2)
    time.sleep(0.1)
    scrape = scrape_worker(app)
    assert value(scrape, "outbox_pending") == 2
    assert value(scrape, "outbox_oldest_seconds") > 0


def test_the_purge_keeps_up_with_100_events_a_second(app, kind):
    # Several purge intervals' worth of events, all published longer ago than the retention,
    # and some that must stay: recent and unpublished ones.
    old = EVENTS_PER_SECOND * relay.PURGE_EVERY_SECONDS * MARGIN
    retention = app.extensions["flotilla.relay"].settings.retention_hours
    with app.app_context(), app.extensions["flotilla.db"].transaction() as cursor:
        cursor.execute(
            """
            INSERT INTO outbox (id, type, data, published_at)
            SELECT gen_random_uuid(), %(kind)s, '{}'::jsonb,
                   now() - make_interval(hours => %(hours)s + 1)
            FROM generate_series(1, %(old)s)
            """,
            {"kind": kind, "hours": retention, "old": old},
        )
        cursor.execute(
            """
            INSERT INTO outbox (id, type, data, published_at)
            SELECT gen_random_uuid(), %(kind)s, '{}'::jsonb,
                   CASE WHEN n %% 2 = 0 THEN now() END
            FROM generate_series(1, 10) AS n
            """,
            {"kind": kind},
        )
    started = time.monotonic()
    assert run_job(app, relay.PURGE_JOB) == old  # one run clears them all
    took = time.monotonic() - started
    assert len(published(app)) == 10
    # With time to spare: the relay, on the same worker, waits while the purge runs.
    assert took <= relay.PURGE_SECONDS + 1
    print(f"purged {old} events in {took:.2f} s ({old / took:.0f} a second)")
