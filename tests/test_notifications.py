"""notification-service end to end: events published to RabbitMQ (as the outbox relays them)
become notifications, read through NGINX, and mail, read from MailDev's REST API."""

import json
import os
import random
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests

from conftest import (
    bearer,
    container_of,
    logs_since,
    register_customer,
    wait_until,
)

pytestmark = pytest.mark.needs("notification-service")

MAILDEV = "http://maildev:1080"
DEAD_LETTER_QUEUE = "notification-service.dead"
# Run inside notification-worker (it has flotilla.broker) as the operator: its own user may
# not publish events (OPERATOR).
PUBLISH = """
import json, sys
from flotilla.broker import EXCHANGE, BrokerSettings, connect, publish
from flotilla.config import Env
connection = connect(BrokerSettings.from_env(Env()))
channel = connection.channel()
channel.confirm_delivery()
for message in json.loads(sys.argv[1]):
    if "raw" in message:
        channel.basic_publish(EXCHANGE, message["routing_key"], message["raw"].encode())
    else:
        publish(channel, message)
connection.close()
"""
OPERATOR = {
    "RABBITMQ_URL": "amqp://flotilla@rabbitmq:5672/%2F",
    "RABBITMQ_PASSWORD": os.environ.get("RABBITMQ_PASSWORD", "rabbitmq-dev-password"),
}
# As notification-worker's own user: it may read its dead-letter queue.
TAKE_DEAD_LETTERS = """
import json, sys
from flotilla.broker import BrokerSettings, connect
from flotilla.config import Env
connection = connect(BrokerSettings.from_env(Env()))
channel = connection.channel()
bodies = []
while (message := channel.basic_get(sys.argv[1], auto_ack=True))[0] is not None:
    bodies.append(message[2].decode(errors="replace"))
connection.close()
print(json.dumps(bodies))
"""


@pytest.fixture(scope="module")
def worker(stack):
    return container_of(stack, "notification-worker")


def publish_from(worker, *messages: dict) -> None:
    """Publish envelopes (or {"raw": text, "routing_key": key}) to flotilla.events."""
    code, output = worker.exec_run(
        ["python", "-c", PUBLISH, json.dumps(messages)], environment=OPERATOR
    )
    assert code == 0, output.decode(errors="replace")


@pytest.fixture
def publish(worker):
    return lambda *messages: publish_from(worker, *messages)


def envelope(type: str, event_id: str | None = None, **data) -> dict:
    return {
        "id": event_id or str(uuid.uuid4()),
        "type": type,
        "occurred_at": datetime.now(UTC).isoformat(),
        "request_id": f"it-notify-{uuid.uuid4().hex}",
        "data": data,
    }


@pytest.fixture(scope="module")
def customer(worker) -> dict:
    """A customer registered through NGINX, whose address notification-service knows.

    Shared by the tests here: each looks only at its own orders' notifications and mail."""
    user = register_customer()
    publish_from(
        worker, envelope("user.registered", user_id=user["id"], email=user["email"], name="C")
    )
    return user


def new_order_id() -> int:
    return random.randint(10**9, 10**12)


def mails(to: str, subject: str) -> list[dict]:
    """The mails MailDev received for an address with a subject."""
    response = requests.get(f"{MAILDEV}/email", timeout=10)
    response.raise_for_status()
    return [
        mail
        for mail in response.json()
        if mail["subject"] == subject and any(r["address"] == to for r in mail.get("to", []))
    ]


def maildev_answers() -> bool:
    try:
        return requests.get(f"{MAILDEV}/healthz", timeout=2).ok
    except requests.ConnectionError:
        return False


def notifications(api, user: dict, subject: str) -> list[dict]:
    """The user's notifications with a subject, through NGINX."""
    response = api.get("/api/notifications", params={"limit": 100}, headers=user["headers"])
    assert response.status_code == 200, response.text
    return [item for item in response.json()["items"] if item["subject"] == subject]


def wait_for_mail(api, user: dict, subject: str, timeout: float = 30) -> None:
    """Wait until the mail arrived and its notification says so."""
    wait_until(lambda: mails(user["email"], subject), timeout, f"mail {subject!r}")
    wait_until(
        lambda: [n["email"] for n in notifications(api, user, subject)] == ["sent"],
        10,
        f"notification {subject!r} marked sent",
    )


def logged_lines(worker, since: float, *fragments: str) -> list[str]:
    """The worker's log lines that contain every fragment."""
    return [
        line
        for line in logs_since([worker], since).splitlines()
        if all(fragment in line for fragment in fragments)
    ]


def test_an_event_becomes_one_notification_and_one_mail(api, publish, customer, worker):
    since = time.time() - 1
    order_id = new_order_id()
    lines = [{"product_id": 1, "name": "Lamp", "unit_price_cents": 1250, "quantity": 2}]
    event = envelope(
        "order.confirmed", order_id=order_id, user_id=customer["id"], items=lines, total_cents=2500
    )
    publish(event)
    subject = f"Order #{order_id} confirmed"
    wait_for_mail(api, customer, subject)
    [mail] = mails(customer["email"], subject)
    assert "2 x Lamp at 12.50 = 25.00" in mail["text"] and "Total: 25.00" in mail["text"]
    [notification] = notifications(api, customer, subject)
    assert notification["type"] == "order.confirmed"
    # One request id from the event's request to the mail, in the worker's log lines.
    for message in ('"event handled"', '"mail sent"'):
        assert logged_lines(worker, since, message, event["request_id"]), message


def test_the_same_event_delivered_twice_is_one_notification_and_one_mail(
    api, publish, customer, worker
):
    since = time.time() - 1
    order_id = new_order_id()
    event = envelope("order.cancelled", order_id=order_id, user_id=customer["id"])
    publish(event, event)
    wait_until(
        lambda: logged_lines(worker, since, '"event already handled"', event["id"]),
        30,
        "the second delivery to be recognised",
    )
    subject = f"Order #{order_id} cancelled"
    wait_for_mail(api, customer, subject)
    time.sleep(2)  # a second mail would be sent by the next round of the send-mail job
    assert len(mails(customer["email"], subject)) == 1
    assert len(notifications(api, customer, subject)) == 1


def test_a_poison_message_is_dead_lettered_and_later_events_still_processed(
    api, publish, customer, worker
):
    poison = f"not an event {uuid.uuid4().hex}"
    order_id = new_order_id()
    publish(
        {"raw": poison, "routing_key": "order.cancelled"},
        envelope("order.failed", order_id=order_id, user_id=customer["id"]),
    )
    wait_for_mail(api, customer, f"Order #{order_id} could not be completed")

    def dead_letters() -> list[str]:
        code, output = worker.exec_run(["python", "-c", TAKE_DEAD_LETTERS, DEAD_LETTER_QUEUE])
        assert code == 0, output.decode(errors="replace")
        return json.loads(output)

    taken: list[str] = []

    def dead_lettered() -> bool:
        taken.extend(dead_letters())
        return poison in taken

    wait_until(dead_lettered, 15, "the poison message in the dead-letter queue")


def test_mail_waits_out_an_smtp_outage_and_is_sent_once(api, publish, customer, stack, worker):
    maildev = container_of(stack, "maildev")
    order_id = new_order_id()
    event = envelope("order.failed", order_id=order_id, user_id=customer["id"])
    subject = f"Order #{order_id} could not be completed"
    since = time.time() - 1
    maildev.stop(timeout=2)
    try:
        publish(event)
        wait_until(
            lambda: logged_lines(worker, since, '"mail delayed"', event["request_id"]),
            30,
            "a failed attempt to send",
        )
        assert [n["email"] for n in notifications(api, customer, subject)] == ["queued"]
    finally:
        maildev.start()  # a stopped container is not restarted by its policy
    wait_until(maildev_answers, 90, "MailDev to answer again")
    wait_for_mail(api, customer, subject)
    time.sleep(2)
    assert len(mails(customer["email"], subject)) == 1


def test_callers_see_only_their_own_notifications(api, publish, customer):
    other = register_customer()
    mine, theirs = new_order_id(), new_order_id()
    publish(
        envelope("order.cancelled", order_id=mine, user_id=customer["id"]),
        envelope("order.cancelled", order_id=theirs, user_id=other["id"]),
    )
    wait_until(
        lambda: notifications(api, other, f"Order #{theirs} cancelled"), 30, "their notification"
    )
    wait_until(
        lambda: notifications(api, customer, f"Order #{mine} cancelled"), 30, "my notification"
    )
    page = api.get("/api/notifications", headers=customer["headers"]).json()
    assert f"Order #{theirs} cancelled" not in [n["subject"] for n in page["items"]]
    assert api.get("/api/notifications").status_code == 401
    assert api.get("/api/notifications", headers=bearer("not-a-token")).status_code == 401


def test_the_queue_is_bound_to_the_types_it_handles_and_no_other(stack):
    # Declared by the broker's definitions (rabbitmq/definitions.sh): a wildcard there would
    # route a type no handler knows into the queue, and from there to the dead letters.
    rabbitmq = container_of(stack, "rabbitmq")
    code, output = rabbitmq.exec_run(
        [
            "rabbitmqctl", "-q", "list_bindings",
            "source_name", "destination_name", "routing_key", "--formatter", "json",
        ]
    )  # fmt: skip
    assert code == 0, output.decode(errors="replace")
    keys = {
        binding["routing_key"]
        for binding in json.loads(output)
        if binding["source_name"] == "flotilla.events"
        and binding["destination_name"] == "notification-service"
    }
    assert keys == {"user.registered", "order.confirmed", "order.cancelled", "order.failed"}
