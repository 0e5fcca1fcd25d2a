"""notification-service's foundation: health (its database and RabbitMQ) and its invariants."""

import dataclasses

import psycopg2
import pytest

from flotilla_testing.checks import ServiceWithDatabase


class TestFoundation(ServiceWithDatabase):
    """Health, migrations and the least-privileged role (flotilla_testing.checks)."""


def test_readyz_checks_rabbitmq(client):
    assert client.get("/readyz").json["checks"] == {"database": "ok", "rabbitmq": "ok"}


@pytest.mark.parametrize(
    "url",
    [
        "amqp://flotilla:wrong-password@rabbitmq:5672/%2F",
        "amqp://flotilla:x@127.0.0.1:1/%2F",
        "amqp://flotilla:x@no-such-host.invalid:5672/%2F",
    ],
    ids=["wrong password", "nothing listening", "unknown host"],
)
def test_readyz_names_rabbitmq_when_it_cannot_be_reached(app_with, config, url):
    broker = dataclasses.replace(config.broker, url=url)
    response = app_with(broker=broker).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "ok", "rabbitmq": "failing"}


@pytest.mark.parametrize("status", ["delivered", ""])
def test_the_database_refuses_unknown_mail_states(db, status):
    with pytest.raises(psycopg2.IntegrityError), db.transaction() as cursor:
        cursor.execute(
            "INSERT INTO notifications (event_id, user_id, type, subject, body, email_status)"
            " VALUES (gen_random_uuid(), 1, 'order.failed', 's', 'b', %s)",
            (status,),
        )


def test_the_database_keeps_one_notification_per_event(db):
    insert = (
        "INSERT INTO notifications (event_id, user_id, type, subject, body)"
        " VALUES ('6c1f8a56-3d36-4a40-9d7c-2d7fd3f0a001', 1, 'order.failed', 's', 'b')"
    )
    with db.transaction() as cursor:
        cursor.execute(insert)
    with pytest.raises(psycopg2.IntegrityError), db.transaction() as cursor:
        cursor.execute(insert)
