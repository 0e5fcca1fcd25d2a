"""Orders that always finish: what the worker's recovery and a repeat of the key do with an
order whose request died, and cancels whose stock return was interrupted."""

import pytest

from flotilla.worker import run_job
from order_service import idempotency, orders
from order_service.jobs import JOBS
from order_service.products import ReservationReleasedError

UNREACHABLE = "http://127.0.0.1:1"


def _lines(product: dict, quantity: int = 2) -> list[dict]:
    return [{"product_id": product["id"], "quantity": quantity}]


def _interrupted(app, db, user: dict, lines: list[dict], *, key=None, taken=False) -> dict:
    """An order whose request died once it was recorded (and, if taken, once it took stock)."""
    with db.transaction() as cursor:
        claim = idempotency.new_claim()
        if key is not None:
            claim = idempotency.claim(
                cursor,
                user_id=user["id"],
                key=key,
                request_hash=idempotency.body_hash({"items": lines}),
                retention_hours=24,
                lines=lines,
            )
        order = claim.order or orders.record_pending(
            cursor, user_id=user["id"], reservation_id=claim.reservation_id, lines=lines, fresh=True
        )
    if taken:
        app.extensions["order_service.products"].reserve(
            reservation_id=order["reservation_id"], lines=lines
        )
    return order


def _settle(app, db, *, older_than_seconds: float = 0) -> int:
    with app.app_context():
        return orders.resolve_pending(
            db, app.extensions["order_service.products"], older_than_seconds=older_than_seconds
        )


def _order(db, order_id: int) -> dict:
    with db.transaction() as cursor:
        cursor.execute("SELECT * FROM orders WHERE id = %s", (order_id,))
        return cursor.fetchone()


def _events(db) -> list[dict]:
    with db.transaction() as cursor:
        cursor.execute("SELECT type, data FROM outbox ORDER BY occurred_at, type")
        return cursor.fetchall()


def _replay(client, user, lines, key):
    return client.post(
        "/api/orders", json={"items": lines}, headers={**user["headers"], "Idempotency-Key": key}
    )


def test_an_order_that_took_its_stock_is_confirmed_with_its_event(app, client, db, alice, catalog):
    product = catalog.create(stock=5, price_cents=700, name="Kettle")
    lines = _lines(product)
    order = _interrupted(app, db, alice, lines, key="k-taken", taken=True)
    # Until it is settled, a repeat waits for the request that holds the key.
    assert _replay(client, alice, lines, "k-taken").status_code == 409
    assert _settle(app, db) == 1
    replay = _replay(client, alice, lines, "k-taken")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    item = {"product_id": product["id"], "name": "Kettle", "unit_price_cents": 700, "quantity": 2}
    assert replay.json["status"] == "confirmed" and replay.json["items"] == [item]
    assert replay.json["id"] == order["id"] and replay.json["total_cents"] == 1400
    assert client.get(f"/api/orders/{order['id']}", headers=alice["headers"]).json == replay.json
    assert _events(db) == [
        {
            "type": "order.confirmed",
            "data": {
                "order_id": order["id"],
                "user_id": alice["id"],
                "items": [item],
                "total_cents": 1400,
            },
        }
    ]
    assert catalog.stock(product["id"]) == 3


def test_an_order_that_took_nothing_fails_and_can_never_take_stock(app, client, db, alice, catalog):
    product = catalog.create(stock=5)
    lines = _lines(product)
    order = _interrupted(app, db, alice, lines, key="k-lost")
    assert _settle(app, db) == 1
    assert _order(db, order["id"])["status"] == "failed"
    assert _events(db) == [
        {"type": "order.failed", "data": {"order_id": order["id"], "user_id": alice["id"]}}
    ]
    # The request's reserve arriving late (or retried) finds the reservation released.
    with pytest.raises(ReservationReleasedError):
        app.extensions["order_service.products"].reserve(
            reservation_id=order["reservation_id"], lines=lines
        )
    assert catalog.stock(product["id"]) == 5
    replay = _replay(client, alice, lines, "k-lost")
    assert replay.status_code == 201
    assert replay.json["status"] == "failed" and replay.json["total_cents"] is None
    assert replay.json["items"] == [
        {"product_id": product["id"], "name": None, "unit_price_cents": None, "quantity": 2}
    ]
    cancel = client.post(f"/api/orders/{order['id']}/cancel", headers=alice["headers"])
    assert cancel.status_code == 409


def test_settling_twice_changes_nothing(app, db, alice, catalog):
    taken, lost = catalog.create(stock=5), catalog.create(stock=5)
    _interrupted(app, db, alice, _lines(taken), taken=True)
    _interrupted(app, db, alice, _lines(lost))
    assert _settle(app, db) == 2
    assert _settle(app, db) == 0
    assert sorted(event["type"] for event in _events(db)) == ["order.confirmed", "order.failed"]
    assert catalog.stock(taken["id"]) == 3 and catalog.stock(lost["id"]) == 5


def test_young_orders_are_left_to_their_request(app, db, alice, catalog):
    order = _interrupted(app, db, alice, _lines(catalog.create()))
    assert _settle(app, db, older_than_seconds=60) == 0
    assert _order(db, order["id"])["status"] == "pending"


def test_orders_wait_while_product_service_is_unreachable(app_with, app, db, alice, catalog):
    product = catalog.create(stock=5)
    order = _interrupted(app, db, alice, _lines(product), taken=True)
    assert _settle(app_with(product_service_url=UNREACHABLE), db) == 0
    assert _order(db, order["id"])["status"] == "pending"
    assert _settle(app, db) == 1
    assert _order(db, order["id"])["status"] == "confirmed"


def test_a_request_finds_the_recovery_released_its_reservation(app, client, db, alice, catalog):
    # The recovery released the reservation and died before marking the order failed; the
    # client's retry (its request failed on our side, so the key is free) finishes it.
    product = catalog.create(stock=5)
    lines = _lines(product)
    order = _interrupted(app, db, alice, lines, key="k-raced")
    app.extensions["order_service.products"].resolve(reservation_id=order["reservation_id"])
    with db.transaction() as cursor:
        cursor.execute("UPDATE idempotency_keys SET lease_expires_at = now()")
    response = _replay(client, alice, lines, "k-raced")
    assert response.status_code == 201 and response.json["status"] == "failed"
    assert [event["type"] for event in _events(db)] == ["order.failed"]
    assert catalog.stock(product["id"]) == 5


def test_a_cancel_commits_even_when_the_stock_cannot_be_returned_yet(
    app_with, app, client, db, alice, catalog
):
    product = catalog.create(stock=5)
    placed = _replay(client, alice, _lines(product, 3), "k-cancel").json
    down = app_with(product_service_url=UNREACHABLE).test_client()
    response = down.post(f"/api/orders/{placed['id']}/cancel", headers=alice["headers"])
    assert response.status_code == 200 and response.json["status"] == "cancelled"
    assert catalog.stock(product["id"]) == 2
    assert [event["type"] for event in _events(db)] == ["order.confirmed", "order.cancelled"]
    assert _events(db)[1]["data"] == {"order_id": placed["id"], "user_id": alice["id"]}
    with app.app_context():
        returned = orders.return_cancelled_stock(
            db, app.extensions["order_service.products"], older_than_seconds=0
        )
        assert returned == 1
        assert (
            orders.return_cancelled_stock(
                db, app.extensions["order_service.products"], older_than_seconds=0
            )
            == 0
        )
    assert catalog.stock(product["id"]) == 5
    assert _order(db, placed["id"])["stock_returned_at"] is not None


def test_cancelling_again_finishes_an_interrupted_cancel(app_with, client, db, alice, catalog):
    product = catalog.create(stock=5)
    placed = _replay(client, alice, _lines(product, 3), "k-again").json
    down = app_with(product_service_url=UNREACHABLE).test_client()
    down.post(f"/api/orders/{placed['id']}/cancel", headers=alice["headers"])
    for _ in range(2):
        response = client.post(f"/api/orders/{placed['id']}/cancel", headers=alice["headers"])
        assert response.status_code == 200 and response.json["status"] == "cancelled"
    assert catalog.stock(product["id"]) == 5
    assert [event["type"] for event in _events(db)] == ["order.confirmed", "order.cancelled"]


def test_a_pending_order_cannot_be_cancelled_yet(app, client, db, alice, catalog):
    order = _interrupted(app, db, alice, _lines(catalog.create()))
    response = client.post(f"/api/orders/{order['id']}/cancel", headers=alice["headers"])
    assert response.status_code == 409 and response.json["error"]["code"] == "conflict"


def test_the_worker_runs_the_recovery_jobs(app, db, alice, catalog):
    taken, cancelled = catalog.create(stock=5), catalog.create(stock=5)
    pending = _interrupted(app, db, alice, _lines(taken), taken=True)
    stuck = _interrupted(app, db, alice, _lines(cancelled), taken=True)
    with db.transaction() as cursor:  # as a crash would leave them, long enough ago
        cursor.execute(
            "UPDATE orders SET status = 'cancelled', total_cents = 0 WHERE id = %s", (stuck["id"],)
        )
        cursor.execute(
            "UPDATE orders SET created_at = now() - interval '1 minute',"
            " updated_at = now() - interval '1 minute'"
        )
    jobs = {job.name: job for job in JOBS}
    # The stack's own worker may get there first: either way the orders end settled.
    for name in ("settle-pending-orders", "return-cancelled-stock"):
        assert run_job(app, jobs[name]) in {None, 0, 1}
    assert _order(db, pending["id"])["status"] == "confirmed"
    assert _order(db, stuck["id"])["stock_returned_at"] is not None
    assert catalog.stock(taken["id"]) == 3 and catalog.stock(cancelled["id"]) == 5
