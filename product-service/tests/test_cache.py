"""Cache-aside reads of single products: hits, invalidation, and life without Redis."""

import time


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
