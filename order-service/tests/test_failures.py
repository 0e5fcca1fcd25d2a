"""Placing an order when product-service answers too late: the order is settled all the same."""

import http.server
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from order_service import orders
from order_service.config import Config


def _slow_proxy(target: str, slow_call: str, delay: float) -> http.server.ThreadingHTTPServer:
    """A proxy to the real product-service that answers one call ("reserve", ...) late."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            upstream = requests.post(target + self.path, data=body, headers=headers, timeout=10)
            call = "reserve" if self.path == "/internal/reservations" else self.path.rsplit("/")[-1]
            if call == slow_call:
                time.sleep(delay)  # product-service has done the work; the answer is late
            try:
                self.send_response(upstream.status_code)
                self.send_header("Content-Type", upstream.headers["Content-Type"])
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args) -> None:
            pass

    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def slow_app(config: Config, app_with) -> Iterator:
    """order-service with a product-service that answers its reserve calls too late."""
    server = _slow_proxy(config.product_service_url, "reserve", delay=1.5)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    yield app_with(product_service_url=url, read_timeout=0.5)
    server.shutdown()


def _post(app, headers, product, **extra):
    return app.test_client().post(
        "/api/orders",
        json={"items": [{"product_id": product["id"], "quantity": 2}]},
        headers={**headers, **extra},
    )


def _orders(db) -> list[dict]:
    with db.transaction() as cursor:
        cursor.execute("SELECT id, status FROM orders ORDER BY id")
        return cursor.fetchall()


def test_a_late_answer_is_504_and_the_retry_with_the_key_gets_the_order(
    slow_app, app, db, alice, catalog
):
    product = catalog.create(stock=5)
    response = _post(slow_app, alice["headers"], product, **{"Idempotency-Key": "late-1"})
    assert response.status_code == 504
    assert response.json["error"]["code"] == "gateway_timeout"
    # product-service did take the stock; the order waits, and the key is free for a retry.
    assert catalog.stock(product["id"]) == 3
    assert [order["status"] for order in _orders(db)] == ["pending"]
    retry = _post(app, alice["headers"], product, **{"Idempotency-Key": "late-1"})
    assert retry.status_code == 201 and retry.json["status"] == "confirmed"
    assert [order["id"] for order in _orders(db)] == [retry.json["id"]]
    assert catalog.stock(product["id"]) == 3
    again = _post(app, alice["headers"], product, **{"Idempotency-Key": "late-1"})
    assert again.get_data() == retry.get_data()


def test_a_late_answer_without_a_key_is_settled_by_the_recovery(slow_app, app, db, alice, catalog):
    product = catalog.create(stock=5)
    assert _post(slow_app, alice["headers"], product).status_code == 504
    with app.app_context():
        assert (
            orders.resolve_pending(
                db, app.extensions["order_service.products"], older_than_seconds=0
            )
            == 1
        )
    assert [order["status"] for order in _orders(db)] == ["confirmed"]
    assert catalog.stock(product["id"]) == 3
