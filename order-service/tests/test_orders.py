"""Placing, reading and cancelling orders against the real product-service."""

from concurrent.futures import ThreadPoolExecutor

import pytest


def _order(client, headers, *lines, key=None):
    extra = {"Idempotency-Key": key} if key is not None else {}
    items = [{"product_id": p["id"], "quantity": q} for p, q in lines]
    return client.post("/api/orders", json={"items": items}, headers={**headers, **extra})


def _order_count(db) -> int:
    with db.transaction() as cursor:
        cursor.execute("SELECT count(*) AS n FROM orders")
        return cursor.fetchone()["n"]


def test_an_order_takes_prices_from_product_service(client, alice, catalog):
    mug, lamp = catalog.create(price_cents=1200, name="Mug"), catalog.create(price_cents=3400)
    response = _order(client, alice["headers"], (mug, 2), (lamp, 1))
    assert response.status_code == 201
    order = response.json
    assert order["status"] == "confirmed" and order["user_id"] == alice["id"]
    assert order["total_cents"] == 2 * 1200 + 3400
    assert order["items"][0] == {
        "product_id": mug["id"],
        "name": "Mug",
        "unit_price_cents": 1200,
        "quantity": 2,
    }
    assert catalog.stock(mug["id"]) == 8 and catalog.stock(lamp["id"]) == 9
    assert client.get(f"/api/orders/{order['id']}", headers=alice["headers"]).json == order


def test_out_of_stock_is_409_and_reserves_nothing(client, db, alice, catalog):
    plenty, scarce = catalog.create(stock=10), catalog.create(stock=1)
    response = _order(client, alice["headers"], (plenty, 1), (scarce, 2))
    assert response.status_code == 409
    assert response.json["error"]["code"] == "out_of_stock"
    assert catalog.stock(plenty["id"]) == 10 and catalog.stock(scarce["id"]) == 1
    assert _order_count(db) == 0


def test_an_unknown_product_is_422(client, db, alice, catalog):
    product = catalog.create()
    response = client.post(
        "/api/orders",
        json={
            "items": [
                {"product_id": product["id"], "quantity": 1},
                {"product_id": 10**15, "quantity": 1},
            ]
        },
        headers=alice["headers"],
    )
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"items[1].product_id": "no such product"}
    assert catalog.stock(product["id"]) == 10 and _order_count(db) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"items": [{"product_id": 1, "quantity": 1, "unit_price_cents": 1}]},
        {"items": [{"product_id": 1, "quantity": 1}], "total_cents": 0},
        {"items": [{"product_id": 1, "quantity": 1}, {"product_id": 1, "quantity": 2}]},
        {"items": [{"product_id": n, "quantity": 1} for n in range(1, 52)]},
        {"items": []},
        {"items": "all"},
        {},
    ],
)
def test_bad_orders_are_422(client, db, alice, body):
    response = client.post("/api/orders", json=body, headers=alice["headers"])
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"
    assert _order_count(db) == 0


def test_list_is_own_orders_newest_first(client, alice, bob, catalog):
    product = catalog.create()
    ids = [_order(client, alice["headers"], (product, 1)).json["id"] for _ in range(3)]
    _order(client, bob["headers"], (product, 1))
    page = client.get("/api/orders?limit=2", headers=alice["headers"]).json
    assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == 0
    assert [o["id"] for o in page["items"]] == ids[::-1][:2]
    rest = client.get("/api/orders?limit=2&offset=2", headers=alice["headers"]).json
    assert [o["id"] for o in rest["items"]] == [ids[0]]


def test_another_users_order_is_404(client, alice, bob, admin_headers, catalog):
    order = _order(client, alice["headers"], (catalog.create(), 1)).json
    for headers in (bob["headers"], admin_headers):
        assert client.get(f"/api/orders/{order['id']}", headers=headers).status_code == 404
    assert (
        client.post(f"/api/orders/{order['id']}/cancel", headers=bob["headers"]).status_code == 404
    )
    assert client.get(f"/api/orders/{2**63}", headers=alice["headers"]).status_code == 404


def test_cancel_returns_the_stock_once(client, alice, admin_headers, catalog):
    product = catalog.create(stock=5)
    order = _order(client, alice["headers"], (product, 3)).json
    for headers in (alice["headers"], alice["headers"], admin_headers):
        response = client.post(f"/api/orders/{order['id']}/cancel", headers=headers)
        assert response.status_code == 200 and response.json["status"] == "cancelled"
    assert catalog.stock(product["id"]) == 5


def test_concurrent_cancels_return_the_stock_once(app, alice, catalog):
    product = catalog.create(stock=5)
    order = _order(app.test_client(), alice["headers"], (product, 3)).json

    def cancel(_: int) -> int:
        path = f"/api/orders/{order['id']}/cancel"
        return app.test_client().post(path, headers=alice["headers"]).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(cancel, range(16))) == {200}
    assert catalog.stock(product["id"]) == 5


def test_an_admin_may_cancel_any_order(client, alice, admin_headers, catalog):
    product = catalog.create(stock=5)
    order = _order(client, alice["headers"], (product, 2)).json
    response = client.post(f"/api/orders/{order['id']}/cancel", headers=admin_headers)
    assert response.status_code == 200 and response.json["user_id"] == alice["id"]
    assert catalog.stock(product["id"]) == 5


def test_an_unreachable_product_service_is_503_and_leaves_nothing(app_with, db, alice):
    down = app_with(product_service_url="http://127.0.0.1:1")
    response = down.test_client().post(
        "/api/orders",
        json={"items": [{"product_id": 1, "quantity": 1}]},
        headers={**alice["headers"], "Idempotency-Key": "down-1"},
    )
    assert response.status_code == 503
    assert response.json["error"]["code"] == "service_unavailable"
    assert _order_count(db) == 0
    with db.transaction() as cursor:  # the key is forgotten: a retry may run again
        cursor.execute("SELECT count(*) AS n FROM idempotency_keys")
        assert cursor.fetchone()["n"] == 0
