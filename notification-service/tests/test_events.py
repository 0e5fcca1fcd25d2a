"""Each event becomes one notification for its user, however often it is delivered."""

import pytest

from flotilla.consumer import InvalidEventError

LINES = [
    {"product_id": 1, "name": "Widget", "unit_price_cents": 250, "quantity": 2},
    {"product_id": 2, "name": "Gadget", "unit_price_cents": 1999, "quantity": 1},
]


def test_a_new_user_is_welcomed_and_their_address_kept(handle, event, notifications, db):
    welcome = event("user.registered", user_id=41, email="ada@example.com", name="Ada")
    assert handle(welcome) is True
    [row] = notifications()
    assert row["user_id"] == 41
    assert row["event_id"] == welcome["id"]
    assert row["type"] == "user.registered"
    assert row["subject"] == "Welcome to Flotilla"
    assert "Hello Ada" in row["body"] and "ada@example.com" in row["body"]
    assert row["email_status"] == "queued"
    assert row["request_id"] == welcome["request_id"]
    with db.transaction() as cursor:
        cursor.execute("SELECT user_id, email, name FROM recipients")
        assert cursor.fetchall() == [{"user_id": 41, "email": "ada@example.com", "name": "Ada"}]


def test_an_order_confirmation_lists_its_lines_and_total(handle, event, notifications):
    confirmed = event("order.confirmed", order_id=7, user_id=41, items=LINES, total_cents=2499)
    assert handle(confirmed)
    [row] = notifications()
    assert row["subject"] == "Order #7 confirmed"
    assert "2 x Widget at 2.50 = 5.00" in row["body"]
    assert "1 x Gadget at 19.99 = 19.99" in row["body"]
    assert "Total: 24.99" in row["body"]


@pytest.mark.parametrize(
    "type, subject",
    [
        ("order.cancelled", "Order #12 cancelled"),
        ("order.failed", "Order #12 could not be completed"),
    ],
)
def test_a_cancelled_or_failed_order_gets_a_note(handle, event, notifications, type, subject):
    assert handle(event(type, order_id=12, user_id=41))
    [row] = notifications()
    assert (row["type"], row["subject"], row["user_id"]) == (type, subject, 41)
    assert "#12" in row["body"]


def test_the_same_event_twice_is_one_notification(handle, event, notifications):
    cancelled = event("order.cancelled", order_id=3, user_id=41)
    assert handle(cancelled) is True
    assert handle(cancelled) is False
    assert len(notifications()) == 1


def test_fields_an_event_grows_later_are_ignored(handle, event, notifications):
    assert handle(event("order.failed", order_id=4, user_id=41, reason="new field"))
    assert notifications()[0]["subject"] == "Order #4 could not be completed"


def test_a_second_registration_of_a_user_updates_the_address(handle, event, db):
    handle(event("user.registered", user_id=41, email="old@example.com", name="Ada"))
    handle(event("user.registered", user_id=41, email="new@example.com", name="Ada L."))
    with db.transaction() as cursor:
        cursor.execute("SELECT email, name FROM recipients WHERE user_id = 41")
        assert cursor.fetchone() == {"email": "new@example.com", "name": "Ada L."}


@pytest.mark.parametrize(
    "type, data",
    [
        ("user.registered", {"user_id": 1, "name": "No address"}),
        ("user.registered", {"user_id": 1, "email": "not-an-address", "name": "A"}),
        ("user.registered", {"user_id": "1", "email": "a@example.com", "name": "A"}),
        ("order.cancelled", {"order_id": 1}),
        ("order.failed", {"order_id": True, "user_id": 1}),
        ("order.confirmed", {"order_id": 1, "user_id": 1, "items": [], "total_cents": 0}),
        ("order.confirmed", {"order_id": 1, "user_id": 1, "items": "x", "total_cents": 0}),
        ("order.confirmed", {"order_id": 1, "user_id": 1, "items": [{"name": "x"}]}),
        ("order.confirmed", {"order_id": 1, "user_id": 1, "items": [1], "total_cents": 1}),
    ],
)
def test_data_no_retry_can_use_is_refused_and_nothing_is_kept(handle, event, db, type, data):
    with pytest.raises(InvalidEventError):
        handle(event(type, **data))
    with db.transaction() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM notifications) + (SELECT count(*) FROM recipients)"
            " + (SELECT count(*) FROM processed_events) AS n"
        )
        assert cursor.fetchone()["n"] == 0
