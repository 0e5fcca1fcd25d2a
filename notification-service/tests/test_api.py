"""GET /api/notifications: the caller's own notifications, newest first, a page at a time."""

import time

import pytest

from flotilla_testing import accounts

WELCOME_SECONDS = 30


def welcomed_customer(app) -> dict:
    """A new customer whose own user.registered notification has arrived already: it comes
    through the stack's relay and worker, and must not land in a test after its clean-up."""
    customer = accounts.new_customer("notification-tests")
    client, deadline = app.test_client(), time.monotonic() + WELCOME_SECONDS
    while not client.get("/api/notifications", headers=customer["headers"]).json["total"]:
        assert time.monotonic() < deadline, "user.registered never became a notification"
        time.sleep(0.2)
    return customer


@pytest.fixture(scope="module")
def alice(app) -> dict:
    return welcomed_customer(app)


@pytest.fixture(scope="module")
def bob(app) -> dict:
    return welcomed_customer(app)


def test_a_token_is_required(client):
    response = client.get("/api/notifications")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_callers_see_only_their_own_notifications_newest_first(client, handle, event, alice, bob):
    for order_id in (1, 2, 3):
        handle(event("order.cancelled", order_id=order_id, user_id=alice["id"]))
    handle(event("order.failed", order_id=9, user_id=bob["id"]))
    page = client.get("/api/notifications", headers=alice["headers"]).json
    assert page["total"] == 3 and page["limit"] == 20 and page["offset"] == 0
    assert [n["subject"] for n in page["items"]] == [
        "Order #3 cancelled",
        "Order #2 cancelled",
        "Order #1 cancelled",
    ]
    first = page["items"][0]
    assert set(first) == {"id", "type", "subject", "body", "created_at", "email"}
    assert first["type"] == "order.cancelled" and first["email"] == "queued"
    assert first["created_at"].endswith("Z")
    other = client.get("/api/notifications", headers=bob["headers"]).json
    assert [n["subject"] for n in other["items"]] == ["Order #9 could not be completed"]


def test_pages(client, handle, event, alice):
    for order_id in range(1, 6):
        handle(event("order.cancelled", order_id=order_id, user_id=alice["id"]))
    page = client.get("/api/notifications?limit=2&offset=1", headers=alice["headers"]).json
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 1
    assert [n["subject"] for n in page["items"]] == ["Order #4 cancelled", "Order #3 cancelled"]
    clamped = client.get("/api/notifications?limit=1000", headers=alice["headers"]).json
    assert clamped["limit"] == 100


@pytest.mark.parametrize("query", ["limit=0", "limit=x", "offset=-1", "limit=1e3", "offset=%00"])
def test_bad_paging_is_400(client, alice, query):
    response = client.get(f"/api/notifications?{query}", headers=alice["headers"])
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"
