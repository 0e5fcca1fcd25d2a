"""`make chaos`: orders and cancellations from concurrent clients through NGINX while each
container of the order and event path is killed (SIGKILL) or restarted in turn, as an
orchestrator would bring it back. Afterwards, with everything healthy again:

- every order is `confirmed`, `cancelled` or `failed` (none `pending`), and each is the one
  answer to its Idempotency-Key (retries place no second order);
- per product, initial stock = current stock + quantities of confirmed orders;
- one `order.confirmed` notification and one confirmation mail per confirmed order;
- the time to full recovery is printed.

It runs last in `make test` (it disrupts the stack) and alone in `make chaos`.
"""

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import requests

from conftest import (
    BASE_URL,
    container_of,
    register_customer,
    stock_of,
    wait_for_health,
    wait_until,
    wait_until_healthy,
)

CLIENTS = 8
PRODUCTS = 3
STOCK = 60
# Each is killed (SIGKILL, PostgreSQL too: its crash recovery), then started again 2 s later.
VICTIMS = [
    "product-service",
    "order-service",
    "api-gateway",
    "order-worker",
    "notification-service",
    "notification-worker",
    "rabbitmq",
    "postgres",
]
GAP_SECONDS = 4
RECOVERY_SECONDS = 120
FINAL = {"confirmed", "cancelled", "failed"}
MAILDEV = "http://maildev:1080"


@dataclass
class Client:
    """One customer placing and cancelling orders until told to stop."""

    customer: dict
    products: list[dict]
    placed: list[int] = field(default_factory=list)  # ids of the orders answered with 201
    cancelled: list[int] = field(default_factory=list)
    session: requests.Session = field(default_factory=requests.Session)

    def call(self, method: str, path: str, **kwargs) -> requests.Response | None:
        """One attempt; None when the stack did not answer."""
        try:
            return self.session.request(
                method, BASE_URL + path, headers=self.headers(kwargs), timeout=10, **kwargs
            )
        except requests.RequestException:
            return None

    def headers(self, kwargs: dict) -> dict:
        return {**self.customer["headers"], **kwargs.pop("extra_headers", {})}

    def retry(self, method: str, path: str, **kwargs) -> requests.Response:
        """Repeat one request (same key, same body) until its answer is final."""
        deadline = time.monotonic() + RECOVERY_SECONDS * 2
        while time.monotonic() < deadline:
            answer = self.call(method, path, **kwargs)
            if answer is not None and _final(answer):
                return answer
            time.sleep(0.5)  # no answer, a 5xx, or a key still running: same request again
        raise AssertionError(f"{method} {path} never got a final answer")

    def run(self, stop: threading.Event) -> None:
        """Place orders, cancelling about one in four, until stopped."""
        while not stop.is_set():
            product = random.choice(self.products)
            body = {"items": [{"product_id": product["id"], "quantity": random.randint(1, 2)}]}
            key = {"Idempotency-Key": uuid.uuid4().hex}
            placed = self.retry("POST", "/api/orders", json=body, extra_headers=key)
            if placed.status_code == 201:
                self.placed.append(placed.json()["id"])
            confirmed = placed.status_code == 201 and placed.json()["status"] == "confirmed"
            if confirmed and random.random() < 0.25:
                order_id = placed.json()["id"]
                self.retry("POST", f"/api/orders/{order_id}/cancel")
                self.cancelled.append(order_id)

    def orders(self) -> list[dict]:
        """Every order of this customer, read back through the API."""
        answer = requests.get(
            f"{BASE_URL}/api/orders",
            params={"limit": 100},
            headers=self.customer["headers"],
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["items"]


def _final(answer: requests.Response) -> bool:
    """Whether an answer settles a request: success, out of stock or invalid, not "retry"."""
    if answer.status_code in {200, 201, 422}:
        return True
    return answer.status_code == 409 and answer.json()["error"]["code"] == "out_of_stock"


def _disrupt(stack: list, victim: str) -> None:
    container = container_of(stack, victim)
    container.kill()  # SIGKILL: no graceful anything
    time.sleep(2)
    container.start()  # `docker kill` is a stop by hand: the orchestrator's job


def _confirmed_quantities(orders: list[dict]) -> Counter:
    taken: Counter = Counter()
    for order in orders:
        if order["status"] == "confirmed":
            for item in order["items"]:
                taken[item["product_id"]] += item["quantity"]
    return taken


def test_orders_survive_any_container_dying(stack, make_product):
    products = [make_product(stock=STOCK) for _ in range(PRODUCTS)]
    clients = [Client(register_customer(), products) for _ in range(CLIENTS)]
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    time.sleep(GAP_SECONDS)
    for victim in VICTIMS:
        _disrupt(stack, victim)
        time.sleep(GAP_SECONDS)
    stop.set()
    disrupted_at = time.monotonic()
    for thread in threads:
        thread.join(RECOVERY_SECONDS)
    for victim in VICTIMS:
        wait_for_health(container_of(stack, victim), timeout=RECOVERY_SECONDS)
    wait_until_healthy(RECOVERY_SECONDS)

    def settled() -> bool:
        orders = [o for c in clients for o in c.orders()]
        if any(o["status"] not in FINAL for o in orders):
            return False
        taken = _confirmed_quantities(orders)
        return all(stock_of(p) + taken[p["id"]] == STOCK for p in products)

    wait_until(settled, RECOVERY_SECONDS, "every order final and stock accounted for")
    orders = [o for c in clients for o in c.orders()]
    confirmed = [o for o in orders if o["status"] == "confirmed"]
    print(
        f"\nchaos: {len(orders)} orders ({Counter(o['status'] for o in orders)}),"
        f" settled {time.monotonic() - disrupted_at:.1f} s after the last disruption"
    )
    assert confirmed, "no order went through: the chaos test proved nothing"
    # Every order is the outcome of exactly one key: no retry ever placed a second one.
    assert sorted(o["id"] for o in orders) == sorted(i for c in clients for i in c.placed)
    _assert_one_notification_and_mail_each(clients, confirmed)


def _assert_one_notification_and_mail_each(clients: list[Client], confirmed: list[dict]) -> None:
    ever_confirmed = {o["id"] for o in confirmed} | {i for c in clients for i in c.cancelled}

    def notified() -> Counter:
        counts: Counter = Counter()
        for client in clients:
            answer = requests.get(
                f"{BASE_URL}/api/notifications",
                params={"limit": 100},
                headers=client.customer["headers"],
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            for note in answer.json()["items"]:
                if note["type"] == "order.confirmed":
                    counts[note["subject"]] += 1
        return counts

    wait_until(
        lambda: len(notified()) >= len(ever_confirmed), RECOVERY_SECONDS, "every notification"
    )
    counts = notified()
    assert all(n == 1 for n in counts.values()), counts
    for order_id in ever_confirmed:
        assert any(f"Order #{order_id}" in subject for subject in counts), order_id

    def mailed() -> Counter:
        mails = requests.get(f"{MAILDEV}/email", timeout=10).json()
        return Counter(mail["subject"] for mail in mails if mail["subject"] in counts)

    wait_until(lambda: len(mailed()) == len(counts), RECOVERY_SECONDS, "every mail")
    assert all(n == 1 for n in mailed().values()), mailed()
