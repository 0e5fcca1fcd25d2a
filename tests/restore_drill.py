"""The restore drill's client (scripts/test-restore drives it; docs/production.md, "Backups
and restore"). Two commands, run in the tests image against the stack under test:

python restore_drill.py before    customers, products and settled orders; then order-worker
    is stopped and orders are left in flight (pending, and confirmed with their events still
    in the outbox); prints READY on stderr and keeps placing orders until stdin closes (a
    backup and a refused restore run meanwhile; every order must be answered); prints what
    it made, as JSON, on stdout.
python restore_drill.py after < STATE    after `down -v`, `up` and `make restore`: the same
    customers (who log in), products and orders; no order pending once
    ORDER_RECOVERY_SECONDS have passed; the stock accounted for; one notification per event.
"""

import json
import os
import re
import sys
import threading
import time
import uuid
from collections import Counter

import docker
import requests

from conftest import (
    BASE_URL,
    PASSWORD,
    PROJECT,
    TIMEOUT,
    login_headers,
    register_customer,
    stock_of,
    wait_until,
    wait_until_healthy,
)

FAULT = "X-Fault"
ORDER_IN_SUBJECT = re.compile(r"Order #(\d+)")
STOCK = 1000


def log(message: str) -> None:
    """A line on stderr: stdout carries the state."""
    print(f"restore drill: {message}", file=sys.stderr, flush=True)


def call(
    method: str, path: str, headers: dict, body: dict | None = None, **extra: str
) -> requests.Response:
    """A request through NGINX."""
    return requests.request(
        method, f"{BASE_URL}{path}", json=body, headers={**headers, **extra}, timeout=TIMEOUT * 3
    )


def order_body(*lines: tuple[dict, int]) -> dict:
    """An order of these (product, quantity) lines."""
    return {"items": [{"product_id": p["id"], "quantity": n} for p, n in lines]}


def every(path: str, headers: dict) -> list[dict]:
    """Every item of a customer's paged list (orders, notifications)."""
    items: list[dict] = []
    while True:
        page = call("GET", f"{path}?limit=100&offset={len(items)}", headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        if len(items) >= page.json()["total"] or not page.json()["items"]:
            return items


def orders_of(headers: dict) -> list[dict]:
    """Every order of a customer."""
    return every("/api/orders", headers)


def notifications_of(headers: dict) -> list[dict]:
    """Every notification of a customer."""
    return every("/api/notifications", headers)


def order_worker() -> docker.models.containers.Container:
    """The stack's order-worker container."""
    client = docker.from_env()
    labels = [f"com.docker.compose.project={PROJECT}", "com.docker.compose.service=order-worker"]
    return client.containers.list(all=True, filters={"label": labels})[0]


# --- before the backup -----------------------------------------------------------------------


def before() -> dict:
    """Make the data, leave orders in flight, keep ordering until stdin closes."""
    wait_until_healthy()
    admin = login_headers(os.environ["ADMIN_EMAIL"], os.environ["ADMIN_PASSWORD"])
    products = []
    for _ in range(3):
        sku = f"DRILL-{uuid.uuid4().hex[:16]}"
        body = {"sku": sku, "name": f"Drill {sku}", "price_cents": 250, "stock": STOCK}
        created = call("POST", "/api/products", admin, body)
        assert created.status_code == 201, created.text
        products.append(created.json())
    customers = [register_customer() for _ in range(4)]
    first, second, third, busy = customers
    _place(first, order_body((products[0], 2)))
    _place(second, order_body((products[0], 1), (products[1], 3)))
    cancelled = _place(first, order_body((products[1], 4)))
    answer = call("POST", f"/api/orders/{cancelled['id']}/cancel", first["headers"])
    assert answer.status_code == 200, answer.text
    # Their events handled before the backup (2 welcomes, 3 confirmations, 1 cancellation):
    # the restore publishes them again, and the consumer must skip them.
    wait_until(
        lambda: sum(len(notifications_of(c["headers"])) for c in (first, second)) == 6,
        30,
        "the notifications of the first orders",
    )
    # No recovery and no relay for order-service from here on: what is pending stays pending
    # and what is confirmed keeps its event in the outbox, in the backup too.
    order_worker().stop(timeout=20)
    _place(third, order_body((products[1], 2)))
    for step, line in [
        ("order.place.after-reserve", (products[0], 5)),  # stock taken: confirmed later
        ("order.place.after-pending", (products[1], 6)),  # nothing taken: failed later
    ]:
        crashed = call("POST", "/api/orders", third["headers"], order_body(line), **{FAULT: step})
        assert crashed.status_code >= 500, crashed.text
    # Each in flight, with the status the recovery must give it.
    in_flight = [
        [o["id"], "confirmed" if o["items"][0]["product_id"] == products[0]["id"] else "failed"]
        for o in orders_of(third["headers"])
        if o["status"] == "pending"
    ]
    assert len(in_flight) == 2, orders_of(third["headers"])
    pending = {order_id for order_id, _ in in_flight}
    settled = [o for c in customers for o in orders_of(c["headers"]) if o["id"] not in pending]
    placed_while_backing_up = _order_until_stdin_closes(busy, products[2])
    log(f"{placed_while_backing_up} orders placed during the backup, every one answered")
    return {
        "products": products,
        "customers": [{k: c[k] for k in ("id", "email", "name")} for c in customers],
        "orders": settled,
        "in_flight": in_flight,
    }


def _place(customer: dict, body: dict) -> dict:
    answer = call("POST", "/api/orders", customer["headers"], body)
    assert answer.status_code == 201 and answer.json()["status"] == "confirmed", answer.text
    return answer.json()


def _order_until_stdin_closes(customer: dict, product: dict) -> int:
    """Place one-unit orders until stdin closes; each must be confirmed."""
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    log("READY: orders in flight; ordering until stdin closes")
    placed = 0
    while not closed.is_set():
        _place(customer, order_body((product, 1)))
        placed += 1
        time.sleep(0.1)
    return placed


# --- after the restore -----------------------------------------------------------------------


def after(state: dict) -> None:
    """Check that the restored stack has what the backup held, and settles what was in flight."""
    wait_until_healthy()
    restored_at = time.monotonic()
    customers = [_same_customer(customer) for customer in state["customers"]]
    log(f"{len(customers)} customers log in")
    for product in state["products"]:
        _same_product(product, customers[0])
    log(f"{len(state['products'])} products")
    orders = {o["id"]: o for headers in customers for o in orders_of(headers)}
    for order in state["orders"]:
        assert orders.get(order["id"]) == order, (order, orders.get(order["id"]))
    log(f"{len(state['orders'])} orders as they were")
    orders = _settled(customers)
    log(f"no order pending {time.monotonic() - restored_at:.0f} s after the restore")
    for order_id, status in state["in_flight"]:
        assert orders[order_id]["status"] == status, orders[order_id]
    _assert_stock_accounted(state["products"], orders)
    log("the stock is accounted for")
    _assert_one_notification_per_event(customers, orders)


def _same_customer(customer: dict) -> dict:
    """Log in as the customer, check its account; return its auth headers."""
    headers = login_headers(customer["email"], PASSWORD)
    me = call("GET", "/api/users/me", headers)
    assert me.status_code == 200, me.text
    assert {k: me.json()[k] for k in ("id", "email", "name")} == customer
    return headers


def _same_product(product: dict, headers: dict) -> None:
    """The product as it was (a token bypasses NGINX's edge cache)."""
    found = call("GET", f"/api/products/{product['id']}", headers)
    assert found.status_code == 200, found.text
    for key in ("sku", "name", "price_cents"):
        assert found.json()[key] == product[key], (key, found.json())


def _settled(customers: list[dict]) -> dict:
    """Every order of the customers by id, once none is pending (within the recovery window)."""

    def orders() -> dict:
        now = {o["id"]: o for headers in customers for o in orders_of(headers)}
        return {} if any(o["status"] == "pending" for o in now.values()) else now

    wait_until(orders, _recovery_seconds(), "no order pending")
    return orders()


def _assert_stock_accounted(products: list[dict], orders: dict) -> None:
    """For every product: what was stocked = its stock + the quantities of confirmed orders."""
    taken: Counter = Counter()
    for order in orders.values():
        if order["status"] == "confirmed":
            for item in order["items"]:
                taken[item["product_id"]] += item["quantity"]
    for product in products:
        assert stock_of(product) + taken[product["id"]] == STOCK, product


def _recovery_seconds() -> float:
    """ORDER_RECOVERY_SECONDS of the stack's order-worker (API.md's bound)."""
    env = dict(item.split("=", 1) for item in order_worker().attrs["Config"]["Env"])
    return float(env.get("ORDER_RECOVERY_SECONDS", 60))


def _expected(order: dict) -> list[str]:
    """The events an order in its final status has caused."""
    return {
        "confirmed": ["order.confirmed"],
        "cancelled": ["order.confirmed", "order.cancelled"],
        "failed": ["order.failed"],
    }[order["status"]]


def _assert_one_notification_per_event(customers: list[dict], orders: dict) -> None:
    """Events from the outbox arrive; those handled before the backup arrive again, unnoticed."""
    expected = Counter({("user.registered", None): len(customers)})
    for order in orders.values():
        expected.update((kind, order["id"]) for kind in _expected(order))

    def received() -> Counter:
        counts: Counter = Counter()
        for headers in customers:
            for note in notifications_of(headers):
                named = ORDER_IN_SUBJECT.search(note["subject"])
                counts[(note["type"], int(named[1]) if named else None)] += 1
        return counts

    wait_until(lambda: received() >= expected, 60, "a notification for every event")
    # Events published again go out first, in order: a copy would have come by now; two
    # more seconds for a straggler.
    time.sleep(2)
    counts = received()
    assert counts == expected, (counts - expected, expected - counts)
    log(f"{sum(counts.values())} notifications, one per event")


if __name__ == "__main__":
    if sys.argv[1:] == ["before"]:
        json.dump(before(), sys.stdout)
    elif sys.argv[1:] == ["after"]:
        after(json.load(sys.stdin))
        log("passed")
    else:
        sys.exit(__doc__)
