"""The internal reservation API: all-or-nothing, idempotent, and only for services."""

from concurrent.futures import ThreadPoolExecutor

import pytest


def _reserve(client, headers, reservation_id, items):
    return client.post(
        "/internal/reservations",
        json={"reservation_id": reservation_id, "items": items},
        headers=headers,
    )


def _stock(client, product_id):
    # Straight from the database: the cache is bypassed by reading the list.
    items = client.get("/api/products?limit=100").json["items"]
    return next(p["stock"] for p in items if p["id"] == product_id)


@pytest.mark.parametrize("token", [None, "", "wrong-token", "internal-dev-token-x"])
def test_internal_calls_need_the_service_token(client, make_product, token):
    product = make_product()
    headers = {"X-Service-Token": token} if token is not None else {}
    items = [{"product_id": product["id"], "quantity": 1}]
    assert _reserve(client, headers, "r-1", items).status_code == 401
    assert client.post("/internal/reservations/r-1/release", headers=headers).status_code == 401
    assert client.post("/internal/reservations/r-1/resolve", headers=headers).status_code == 401
    assert _stock(client, product["id"]) == 10


def test_user_tokens_do_not_open_internal_routes(client, admin_headers, make_product):
    product = make_product()
    response = _reserve(
        client, admin_headers, "r-1", [{"product_id": product["id"], "quantity": 1}]
    )
    assert response.status_code == 401


def test_reserve_is_all_or_nothing(client, service_headers, make_product):
    plenty, scarce = make_product(stock=10), make_product(stock=1)
    items = [
        {"product_id": plenty["id"], "quantity": 3},
        {"product_id": scarce["id"], "quantity": 2},
    ]
    response = _reserve(client, service_headers, "r-1", items)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "out_of_stock"
    assert response.json["error"]["message"] == f"Product {scarce['id']} has 1 left, 2 requested"
    assert _stock(client, plenty["id"]) == 10 and _stock(client, scarce["id"]) == 1


def test_an_unknown_product_reserves_nothing(client, service_headers, make_product):
    product = make_product()
    items = [{"product_id": product["id"], "quantity": 1}, {"product_id": 999999, "quantity": 1}]
    response = _reserve(client, service_headers, "r-1", items)
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"items[1].product_id": "no such product"}
    assert _stock(client, product["id"]) == 10


def test_reserve_takes_the_stock_for_good_and_repeats_safely(client, service_headers, make_product):
    product = make_product(name="Lamp", price_cents=3400, stock=5)
    items = [{"product_id": product["id"], "quantity": 2}]
    first = _reserve(client, service_headers, "r-1", items)
    assert first.status_code == 201
    assert first.json == {
        "id": "r-1",
        "status": "committed",
        "items": [
            {"product_id": product["id"], "name": "Lamp", "unit_price_cents": 3400, "quantity": 2}
        ],
    }
    again = _reserve(client, service_headers, "r-1", items)
    assert again.status_code == 200 and again.json == first.json
    assert _stock(client, product["id"]) == 3


def test_release_returns_the_stock_once(client, service_headers, make_product):
    product = make_product(stock=5)
    _reserve(client, service_headers, "r-1", [{"product_id": product["id"], "quantity": 4}])
    assert _stock(client, product["id"]) == 1
    for _ in range(3):
        response = _call(client, service_headers, "r-1", "release")
        assert response.status_code == 200 and response.json["status"] == "released"
    assert _stock(client, product["id"]) == 5
    # A released reservation can never take stock again.
    items = [{"product_id": product["id"], "quantity": 1}]
    assert _reserve(client, service_headers, "r-1", items).status_code == 409
    assert _stock(client, product["id"]) == 5


def test_a_release_before_a_late_reserve_wins(client, service_headers, make_product):
    # The caller gave up (timeout) and released; the reserve arriving afterwards takes nothing.
    product = make_product(stock=5)
    _call(client, service_headers, "r-late", "release")
    items = [{"product_id": product["id"], "quantity": 1}]
    assert _reserve(client, service_headers, "r-late", items).status_code == 409
    assert _stock(client, product["id"]) == 5


def _call(client, headers, reservation_id, action):
    return client.post(f"/internal/reservations/{reservation_id}/{action}", headers=headers)


def test_resolve_reports_a_reservation_that_took_its_stock(client, service_headers, make_product):
    product = make_product(stock=5)
    taken = _reserve(client, service_headers, "r-1", [{"product_id": product["id"], "quantity": 2}])
    for _ in range(2):
        response = _call(client, service_headers, "r-1", "resolve")
        assert response.status_code == 200 and response.json == taken.json
    assert _stock(client, product["id"]) == 3


def test_resolving_an_unknown_reservation_releases_it_for_good(
    client, service_headers, make_product
):
    product = make_product(stock=5)
    response = _call(client, service_headers, "r-lost", "resolve")
    assert response.status_code == 200
    assert response.json == {"id": "r-lost", "status": "released", "items": []}
    items = [{"product_id": product["id"], "quantity": 1}]
    late = _reserve(client, service_headers, "r-lost", items)
    assert late.status_code == 409 and late.json["error"]["code"] == "conflict"
    assert _call(client, service_headers, "r-lost", "resolve").json["status"] == "released"
    assert _stock(client, product["id"]) == 5


@pytest.mark.parametrize("stock, quantity, status", [(1, 2, 409), (5, 1, 422)])
def test_a_refused_reservation_can_never_take_stock_later(
    client, service_headers, admin_headers, make_product, stock, quantity, status
):
    product = make_product(stock=stock)
    items = [{"product_id": product["id"], "quantity": quantity}]
    if status == 422:
        items.append({"product_id": 999999, "quantity": 1})
    assert _reserve(client, service_headers, "r-no", items).status_code == status
    # Even once there is enough stock, a late copy of the refused request takes nothing.
    client.patch(f"/api/products/{product['id']}", json={"stock": 10}, headers=admin_headers)
    assert _reserve(client, service_headers, "r-no", items[:1]).status_code == 409
    assert _call(client, service_headers, "r-no", "resolve").json["status"] == "released"
    assert _stock(client, product["id"]) == 10


def _age(db, reservation_id, *, seconds):
    """Make a reservation look last changed `seconds` ago."""
    with db.transaction() as cursor:
        cursor.execute(
            "UPDATE reservations SET updated_at = now() - make_interval(secs => %s) WHERE id = %s",
            (seconds, reservation_id),
        )


def _stored(db):
    """Every stored reservation id, and the ids that still have items."""
    with db.transaction() as cursor:
        cursor.execute("SELECT id FROM reservations")
        ids = {row["id"] for row in cursor.fetchall()}
        cursor.execute("SELECT DISTINCT reservation_id FROM reservation_items")
        return ids, {row["reservation_id"] for row in cursor.fetchall()}


@pytest.mark.parametrize("trigger", ["resolve", "release", "refused reserve"])
def test_released_reservations_are_purged_once_past_their_retention(
    client, service_headers, db, config, make_product, trigger
):
    product = make_product(stock=5)
    one = [{"product_id": product["id"], "quantity": 1}]
    _reserve(client, service_headers, "r-cancelled", one)
    _call(client, service_headers, "r-cancelled", "release")
    _call(client, service_headers, "r-refused", "resolve")
    _call(client, service_headers, "r-recent", "resolve")
    _reserve(client, service_headers, "r-confirmed", one)
    retention = config.tombstone_seconds
    for old in ("r-cancelled", "r-refused", "r-confirmed"):
        _age(db, old, seconds=retention + 60)
    _age(db, "r-recent", seconds=retention - 60)

    # Any call that leaves a released reservation purges those released too long ago.
    if trigger == "refused reserve":
        refused = [{"product_id": product["id"], "quantity": 100}]
        assert _reserve(client, service_headers, "r-new", refused).status_code == 409
    else:
        assert _call(client, service_headers, "r-new", trigger).status_code == 200

    # A committed reservation is kept however old: its stock is taken for good.
    assert _stored(db) == ({"r-confirmed", "r-recent", "r-new"}, {"r-confirmed"})
    assert _stock(client, product["id"]) == 4
    # Within its retention a tombstone still refuses a late reserve.
    assert _reserve(client, service_headers, "r-recent", one).status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"reservation_id": "r", "items": []},
        {"reservation_id": "r", "items": [{"product_id": 1, "quantity": 0}]},
        {"reservation_id": "r", "items": [{"product_id": 1, "quantity": 1001}]},
        {"reservation_id": "r", "items": [{"product_id": 1, "quantity": 1}] * 2},
        {"reservation_id": "bad id", "items": [{"product_id": 1, "quantity": 1}]},
        {"reservation_id": "r", "items": [{"product_id": 2**63, "quantity": 1}]},
        {"reservation_id": "r"},
    ],
)
def test_bad_reservations_are_422(client, service_headers, body):
    response = client.post("/internal/reservations", json=body, headers=service_headers)
    assert response.status_code == 422


def test_crossing_multi_line_reservations_neither_deadlock_nor_oversell(
    app, service_headers, make_product
):
    a, b, c = make_product(stock=30), make_product(stock=30), make_product(stock=30)
    # Half the requests list the products one way round, half the other.
    orders = [[a, b, c] if n % 2 else [c, b, a] for n in range(40)]

    def reserve(n: int) -> int:
        items = [{"product_id": p["id"], "quantity": 1} for p in orders[n]]
        return _reserve(app.test_client(), service_headers, f"r-{n}", items).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(reserve, range(40)))
    assert statuses.count(201) == 30 and statuses.count(409) == 10
    client = app.test_client()
    assert [_stock(client, p["id"]) for p in (a, b, c)] == [0, 0, 0]
