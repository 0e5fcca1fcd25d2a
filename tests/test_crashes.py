"""Orders that always finish (API.md, "Crashes"): a SIGKILL at any step of placing or
cancelling an order leaves no order pending past ORDER_RECOVERY_SECONDS, the stock exactly
accounted for, and a retry with the same Idempotency-Key gets the final outcome.

The stack's order-service and product-service run with FAULT_INJECTION (docker-compose.test.yml):
a request naming a step in X-Fault makes the process handling it SIGKILL itself there
(lib/flotilla/faults.py), and gunicorn starts a new worker. Whole containers dying while
customers keep ordering is the chaos test's (tests/chaos).
"""

import time
import uuid
from collections.abc import Callable

import pytest
import requests

from conftest import (
    BASE_URL,
    TIMEOUT,
    container_of,
    register_customer,
    stock_of,
    wait_for_health,
    wait_for_log,
    wait_until,
)

FAULT = "X-Fault"


@pytest.fixture(scope="module")
def customer() -> dict:
    """The customer of the single-crash tests; each test counts only its own product's orders."""
    return register_customer()


@pytest.fixture(scope="module")
def recovery_seconds(stack) -> float:
    """ORDER_RECOVERY_SECONDS of the stack's order worker (API.md's bound)."""
    worker = container_of(stack, "order-worker")
    env = dict(item.split("=", 1) for item in worker.attrs["Config"]["Env"])
    return float(env.get("ORDER_RECOVERY_SECONDS", 60))


def _post(path: str, headers: dict, body: dict | None = None, **extra) -> requests.Response:
    return requests.post(
        f"{BASE_URL}{path}", json=body, headers={**headers, **extra}, timeout=TIMEOUT * 3
    )


def _crash(stack: list, step: str, send: Callable[[], requests.Response]) -> requests.Response:
    """Send a request naming a crash step; check that the service really died there."""
    since = time.time() - 1
    response = send()
    service = "product-service" if step.startswith("product.") else "order-service"
    wait_for_log([container_of(stack, service)], f'"step": "{step}"', since)
    return response


def _unsettled(response: requests.Response) -> bool:
    """Whether a client should try again: no final answer yet (5xx, or the key still held)."""
    if response.status_code >= 500:
        return True
    return response.status_code == 409 and response.json()["error"]["code"] in {
        "idempotency_conflict",
        "conflict",  # cancelling an order still being placed
    }


def _until_final(send: Callable[[], requests.Response], seconds: float) -> requests.Response:
    """Send until the answer is final, as a client retrying with its key would."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            response = send()
            if not _unsettled(response):
                return response
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "no final answer in time"
        time.sleep(1)


def _orders(customer: dict, products: list[dict] | None = None) -> list[dict]:
    """Every order of a customer (with a line of one of products, if given), page by page."""
    orders: list[dict] = []
    while True:
        response = requests.get(
            f"{BASE_URL}/api/orders",
            params={"limit": 100, "offset": len(orders)},
            headers=customer["headers"],
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text
        page = response.json()
        orders.extend(page["items"])
        if len(orders) >= page["total"] or not page["items"]:
            break
    if products is None:
        return orders
    wanted = {product["id"] for product in products}
    return [o for o in orders if any(item["product_id"] in wanted for item in o["items"])]


def _sold(orders: list[dict], product: dict) -> int:
    """Units of product held by confirmed orders (failed and cancelled ones hold none)."""
    return sum(
        item["quantity"]
        for order in orders
        if order["status"] == "confirmed"
        for item in order["items"]
        if item["product_id"] == product["id"]
    )


def _assert_accounted(customers: list[dict], products: list[tuple[dict, int]], seconds: float):
    """Wait until no order is pending and every unit of stock is accounted for."""

    def settled() -> bool:
        mine = [p for p, _ in products]
        orders = [order for customer in customers for order in _orders(customer, mine)]
        if any(order["status"] == "pending" for order in orders):
            return False
        return all(initial == stock_of(p) + _sold(orders, p) for p, initial in products)

    wait_until(settled, seconds, "every order settled and the stock accounted for")


# --- Placing: (step, stock, quantity, final status) ------------------------------------------
PLACING = [
    # Recorded pending, nothing sent: the recovery releases the reservation for good, fails it.
    ("order.place.after-pending", 10, 2, "failed"),
    # product-service dies mid-transaction: nothing taken; order-service answered 5xx and freed
    # the key, so the client's retry takes the stock now.
    ("product.reserve.before-commit", 10, 2, "confirmed"),
    # Taken, but the answer is lost: the retry's reserve returns the same reservation.
    ("product.reserve.after-commit", 10, 2, "confirmed"),
    # Taken, order-service dies before confirming: the recovery finds it taken and confirms.
    ("order.place.after-reserve", 10, 2, "confirmed"),
    # Confirmed, the answer is lost: the retry gets the stored answer.
    ("order.place.after-confirm", 10, 2, "confirmed"),
    # Refused (out of stock), order-service dies before dropping the order: the recovery
    # finds the reservation refused for good and fails it.
    ("order.place.after-refusal", 1, 2, "failed"),
]


@pytest.mark.parametrize("step, stock, quantity, final", PLACING)
def test_a_crash_while_placing_settles_and_the_retry_gets_the_outcome(
    stack, make_product, customer, recovery_seconds, step, stock, quantity, final
):
    product = make_product(stock=stock)
    body = {"items": [{"product_id": product["id"], "quantity": quantity}]}
    key = {"Idempotency-Key": f"crash-{uuid.uuid4().hex}"}
    crashed = _crash(
        stack, step, lambda: _post("/api/orders", customer["headers"], body, **key, **{FAULT: step})
    )
    assert crashed.status_code >= 500, crashed.text
    answer = _until_final(
        lambda: _post("/api/orders", customer["headers"], body, **key), recovery_seconds
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == final
    _assert_accounted([customer], [(product, stock)], recovery_seconds)
    # Exactly one order, and every later retry returns it unchanged.
    assert [order["id"] for order in _orders(customer, [product])] == [answer.json()["id"]]
    again = _post("/api/orders", customer["headers"], body, **key)
    assert again.status_code == 201 and again.content == answer.content


def test_a_crash_without_a_key_is_settled_too(stack, make_product, customer, recovery_seconds):
    product = make_product(stock=10)
    body = {"items": [{"product_id": product["id"], "quantity": 3}]}
    step = "order.place.after-reserve"
    crashed = _crash(
        stack, step, lambda: _post("/api/orders", customer["headers"], body, **{FAULT: step})
    )
    assert crashed.status_code >= 500, crashed.text
    _assert_accounted([customer], [(product, 10)], recovery_seconds)
    assert [order["status"] for order in _orders(customer, [product])] == ["confirmed"]
    assert stock_of(product) == 7


# --- Cancelling -------------------------------------------------------------------------------
CANCELLING = [
    "order.cancel.after-cancelled",  # cancelled and announced; the stock not yet returned
    "product.release.before-commit",  # product-service dies while returning it
    "product.release.after-commit",  # returned, the answer lost
    "order.cancel.after-release",  # returned, order-service dies before recording that
]


@pytest.mark.parametrize("step", CANCELLING)
def test_a_crash_while_cancelling_returns_the_stock_exactly_once(
    stack, make_product, customer, recovery_seconds, step
):
    product = make_product(stock=10)
    body = {"items": [{"product_id": product["id"], "quantity": 3}]}
    order = _post("/api/orders", customer["headers"], body).json()
    assert stock_of(product) == 7
    path = f"/api/orders/{order['id']}/cancel"
    crashed = _crash(stack, step, lambda: _post(path, customer["headers"], **{FAULT: step}))
    # The cancel itself is committed before the stock is returned: when only product-service
    # died, it is already a 200, and the worker returns the stock.
    assert crashed.status_code in {200, 503}, crashed.text
    _assert_accounted([customer], [(product, 10)], recovery_seconds)
    assert stock_of(product) == 10
    again = _post(path, customer["headers"])
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    assert stock_of(product) == 10


# --- The recovery itself crashing ---------------------------------------------------------------
SETTLE = ["python", "-m", "order_service", "run", "settle-pending-orders"]


@pytest.mark.parametrize(
    "placing_step, final",
    [("order.place.after-pending", "failed"), ("order.place.after-reserve", "confirmed")],
)
def test_a_crash_of_the_recovery_is_recovered_by_its_next_run(
    stack, make_product, customer, recovery_seconds, placing_step, final
):
    worker, service = container_of(stack, "order-worker"), container_of(stack, "order-service")
    product = make_product(stock=10)
    body = {"items": [{"product_id": product["id"], "quantity": 2}]}
    key = {"Idempotency-Key": f"recover-{uuid.uuid4().hex}"}
    worker.stop(timeout=10)  # the recovery runs only from here, where we can crash it
    try:
        _crash(
            stack,
            placing_step,
            lambda: _post("/api/orders", customer["headers"], body, **key, **{FAULT: placing_step}),
        )

        def recovery_crashed() -> bool:
            # It settles only orders older than the request's timeouts; then it dies half-way.
            run = service.exec_run(SETTLE, environment={"FAULT_AT": "order.recover.after-resolve"})
            return run.exit_code == 137

        wait_until(recovery_crashed, recovery_seconds, "the recovery to crash mid-way")
        assert [order["status"] for order in _orders(customer, [product])] == ["pending"]
        run = service.exec_run(SETTLE)
        assert run.exit_code == 0 and "settle-pending-orders: 1" in run.output.decode().splitlines()
    finally:
        worker.start()
        wait_for_health(worker)
    answer = _post("/api/orders", customer["headers"], body, **key)
    assert answer.status_code == 201 and answer.json()["status"] == final
    _assert_accounted([customer], [(product, 10)], recovery_seconds)
