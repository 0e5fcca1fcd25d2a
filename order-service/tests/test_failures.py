"""Placing an order when product-service is slow: nothing is kept on either side."""

import http.server
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from order_service.config import Config


def _slow_proxy(target: str, slow_call: str, delay: float) -> http.server.ThreadingHTTPServer:
    """A proxy to the real product-service that answers one call ("reserve" or "commit") late."""

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
def slow_app(config: Config, app_with, request) -> Iterator:
    server = _slow_proxy(config.product_service_url, request.param, delay=1.5)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    yield app_with(product_service_url=url, read_timeout=0.5)
    server.shutdown()


@pytest.mark.parametrize("slow_app", ["reserve", "commit"], indirect=True)
def test_a_late_answer_is_504_and_the_stock_comes_back(slow_app, db, alice, catalog):
    product = catalog.create(stock=5)
    response = slow_app.test_client().post(
        "/api/orders",
        json={"items": [{"product_id": product["id"], "quantity": 2}]},
        headers=alice["headers"],
    )
    assert response.status_code == 504
    assert response.json["error"]["code"] == "gateway_timeout"
    assert catalog.stock(product["id"]) == 5
    with db.transaction() as cursor:
        cursor.execute("SELECT count(*) AS n FROM orders")
        assert cursor.fetchone()["n"] == 0
