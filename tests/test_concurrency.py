"""Stock is never oversold, keys run once, and cancels return stock once, under concurrency."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import BASE_URL, TIMEOUT, register_customer, stock_of

WORKERS = 16
_local = threading.local()


def _session() -> requests.Session:
    # One keep-alive session per thread: requests.Session is not meant to be shared.
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def _post(path: str, headers: dict, body: dict | None = None) -> requests.Response:
    return _session().post(f"{BASE_URL}{path}", json=body, headers=headers, timeout=TIMEOUT * 3)


def _in_parallel(calls: list) -> list[requests.Response]:
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(lambda call: call(), calls))


@pytest.fixture(scope="module")
def customers() -> list[dict]:
    """Several customers, so that per-user limits never decide the outcome."""
    return [register_customer() for _ in range(10)]


def _own_orders(customer: dict) -> list[dict]:
    response = requests.get(
        f"{BASE_URL}/api/orders",
        params={"limit": 100},
        headers=customer["headers"],
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_a_hundred_orders_for_ten_items_sell_exactly_ten(make_product, customers):
    product = make_product(stock=10)
    body = {"items": [{"product_id": product["id"], "quantity": 1}]}
    responses = _in_parallel(
        [
            lambda n=n: _post("/api/orders", customers[n % len(customers)]["headers"], body)
            for n in range(100)
        ]
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 10, 409: 90}, statuses
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "out_of_stock"
    }
    assert stock_of(product) == 0
    sold = [
        order
        for customer in customers
        for order in _own_orders(customer)
        if order["items"][0]["product_id"] == product["id"]
    ]
    assert len(sold) == 10 and all(order["status"] == "confirmed" for order in sold)


def test_crossing_multi_line_orders_neither_deadlock_nor_reserve_partly(make_product, customers):
    products = [make_product(stock=10) for _ in range(4)]
    a, b, c, d = products
    # Overlapping baskets, listed in opposite orders so that naive locking would deadlock.
    baskets = [[a, b, c], [c, b, a], [d, a], [b, d], [c, d, a, b]]
    requests_made = []
    for n in range(60):
        basket = baskets[n % len(baskets)]
        requests_made.append([{"product_id": p["id"], "quantity": 1} for p in basket])
    responses = _in_parallel(
        [
            lambda n=n: _post(
                "/api/orders", customers[n % len(customers)]["headers"], {"items": requests_made[n]}
            )
            for n in range(60)
        ]
    )
    assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses]
    sold = Counter()
    for response, items in zip(responses, requests_made, strict=True):
        if response.status_code == 201:
            sold.update(item["product_id"] for item in items)
        else:
            assert response.json()["error"]["code"] == "out_of_stock"
    # Every unit that left the stock belongs to a confirmed order, and no stock went negative.
    for product in products:
        assert stock_of(product) == 10 - sold[product["id"]] >= 0
    assert sum(sold.values()) > 0


def test_one_key_sent_twenty_times_at_once_makes_one_order(make_product, customers):
    product = make_product(stock=50)
    customer = customers[0]
    headers = {**customer["headers"], "Idempotency-Key": f"burst-{product['id']}"}
    body = {"items": [{"product_id": product["id"], "quantity": 2}]}
    responses = _in_parallel([lambda: _post("/api/orders", headers, body) for _ in range(20)])

    # API.md: repeats get the first response, or 409 idempotency_conflict while it still runs.
    conflicts = [r for r in responses if r.status_code == 409]
    assert all(r.json()["error"]["code"] == "idempotency_conflict" for r in conflicts)
    others = [r for r in responses if r.status_code != 409]
    assert others, "at least the first request completes"
    assert {r.status_code for r in others} == {201}
    assert len({r.content for r in others}) == 1  # byte for byte the same response
    order = others[0].json()
    mine = [o for o in _own_orders(customer) if o["items"][0]["product_id"] == product["id"]]
    assert [o["id"] for o in mine] == [order["id"]]
    assert stock_of(product) == 48

    # Later repeats too; another body with the key is refused and changes nothing.
    again = _post("/api/orders", headers, body)
    assert again.status_code == 201 and again.content == others[0].content
    changed = _post(
        "/api/orders", headers, {"items": [{"product_id": product["id"], "quantity": 3}]}
    )
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    assert stock_of(product) == 48


def test_concurrent_cancels_return_the_stock_once(make_product, customers, admin_headers):
    product = make_product(stock=10)
    owner = customers[1]
    order = _post(
        "/api/orders", owner["headers"], {"items": [{"product_id": product["id"], "quantity": 4}]}
    ).json()
    assert stock_of(product) == 6
    path = f"/api/orders/{order['id']}/cancel"
    callers = [owner["headers"], admin_headers]
    responses = _in_parallel([lambda n=n: _post(path, callers[n % 2]) for n in range(12)])
    assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
    assert {r.json()["status"] for r in responses} == {"cancelled"}
    assert stock_of(product) == 10
