"""Cache-aside reads of single products: hits, invalidation, and life without Redis."""

import socket
import statistics
import time

from flotilla.redis_client import PAUSE_SECONDS
from product_service.cache import ProductCache


def test_miss_then_hit_and_invalidated_by_writes(client, admin_headers, make_product):
    product = make_product()
    path = f"/api/products/{product['id']}"
    assert client.get(path).headers["X-Cache"] == "miss"
    cached = client.get(path)
    assert cached.headers["X-Cache"] == "hit" and cached.json == product

    client.patch(path, json={"name": "Renamed"}, headers=admin_headers)
    after_patch = client.get(path)
    assert after_patch.headers["X-Cache"] == "miss" and after_patch.json["name"] == "Renamed"
    assert client.get(path).headers["X-Cache"] == "hit"

    client.delete(path, headers=admin_headers)
    assert client.get(path).status_code == 404


def test_a_reservation_invalidates_the_cached_stock(client, service_headers, make_product):
    product = make_product(stock=5)
    path = f"/api/products/{product['id']}"
    client.get(path)
    client.post(
        "/internal/reservations",
        json={"reservation_id": "r-cache", "items": [{"product_id": product["id"], "quantity": 2}]},
        headers=service_headers,
    )
    response = client.get(path)
    assert response.headers["X-Cache"] == "miss" and response.json["stock"] == 3


def test_reads_and_writes_work_without_redis(app_with, admin_headers):
    # A port nothing listens on: every Redis call fails (connection refused).
    client = app_with(redis_url="redis://127.0.0.1:1/0").test_client()
    created = client.post(
        "/api/products",
        json={"sku": "NO-REDIS", "name": "Offline", "price_cents": 1, "stock": 1},
        headers=admin_headers,
    )
    path = f"/api/products/{created.json['id']}"
    started = time.monotonic()
    for _ in range(3):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["X-Cache"] == "miss"
    assert client.patch(path, json={"stock": 2}, headers=admin_headers).json["stock"] == 2
    assert client.get(path).json["stock"] == 2
    assert time.monotonic() - started < 5  # generous: a dead Redis must not stall reads


def test_a_read_that_raced_a_write_is_not_cached(cache, make_product):
    product = make_product()
    cached, version = cache.get(product["id"])
    assert cached is None and version is not None
    cache.invalidate(product["id"])  # a write lands while the reader queries the database
    cache.put(product["id"], '{"stale": true}', version=version)
    assert cache.get(product["id"])[0] is None
    _, fresh = cache.get(product["id"])
    cache.put(product["id"], '{"fresh": true}', version=fresh)
    assert cache.get(product["id"])[0] == '{"fresh": true}'


def timed(action) -> float:
    """Run action; return how long it took, in seconds."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def test_a_hanging_redis_costs_one_timeout_then_nothing():
    # Accepts connections and never answers, like a paused Redis.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
        cache = ProductCache(url, ttl_seconds=60, timeout_seconds=0.2)
        # The call that meets the failure: one socket timeout, no retries with backoff.
        assert 0.2 <= timed(lambda: cache.invalidate(1)) < 0.6
        # Then reads, writes and invalidations skip Redis: nothing to wait for.
        assert statistics.median(timed(lambda: cache.get(2)) for _ in range(20)) < 0.01
        assert statistics.median(timed(lambda: cache.invalidate(3)) for _ in range(20)) < 0.01
        assert cache.get(2) == (None, None)
        time.sleep(PAUSE_SECONDS)  # Redis is probed again, in the background
        assert timed(lambda: cache.get(2)) < 0.2


def test_invalidations_skipped_while_redis_failed_are_done_once_it_is_back(
    config, cache, make_product
):
    product = make_product()
    cache.put(product["id"], '{"old": true}', version=cache.get(product["id"])[1])
    worker = ProductCache(config.redis_url, ttl_seconds=60, timeout_seconds=0.25)
    worker.circuit.breaker.failed()  # as after a failed call: Redis is skipped
    worker.invalidate(product["id"])  # a write on that worker
    assert cache.get(product["id"])[0] == '{"old": true}'  # what other workers may serve
    time.sleep(PAUSE_SECONDS)
    deadline = time.monotonic() + 2
    while worker.get(product["id"]) == (None, None):  # closes once the probe got an answer
        assert time.monotonic() < deadline, "the cache did not come back"
        time.sleep(0.05)
    assert cache.get(product["id"])[0] is None  # the pending invalidation was done first
