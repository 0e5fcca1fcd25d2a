"""The catalog through NGINX: admin CRUD, public pages, cache-aside reads, Redis outages.

A read that must see a write at once carries a token: anonymous reads may come from NGINX's
edge cache for a second (tests/test_edge.py)."""

import time
import uuid

import pytest

from conftest import container_of, register_customer, stock_of, wait_until_healthy


def test_admin_crud_and_public_reads(api, admin_headers):
    sku = f"IT-{uuid.uuid4().hex[:12]}"
    created = api.post(
        "/api/products",
        json={"sku": sku, "name": "Crud lamp", "price_cents": 3400, "stock": 4},
        headers=admin_headers,
    )
    assert created.status_code == 201
    path = f"/api/products/{created.json()['id']}"
    assert api.get(path).json() == created.json()
    patched = api.patch(path, json={"description": "Warm light"}, headers=admin_headers)
    assert patched.status_code == 200 and patched.json()["description"] == "Warm light"
    duplicate = api.post(
        "/api/products",
        json={"sku": sku, "name": "Again", "price_cents": 1, "stock": 1},
        headers=admin_headers,
    )
    assert duplicate.status_code == 409
    assert api.delete(path, headers=admin_headers).status_code == 204
    assert api.get(path, headers=admin_headers).status_code == 404


def test_pages_carry_total_limit_and_offset(api, make_product):
    marker = uuid.uuid4().hex[:10]
    ids = [make_product(name=f"Paged {marker} {n}")["id"] for n in range(3)]
    page = api.get("/api/products", params={"q": marker.upper(), "limit": 2, "offset": 1}).json()
    assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == 1
    assert [p["id"] for p in page["items"]] == ids[1:]
    assert api.get("/api/products", params={"limit": 500}).json()["limit"] == 100


def test_cache_miss_then_hit_invalidated_by_patch_and_delete(api, admin_headers, make_product):
    path = f"/api/products/{make_product()['id']}"
    assert api.get(path, headers=admin_headers).headers["X-Cache"] == "miss"
    assert api.get(path, headers=admin_headers).headers["X-Cache"] == "hit"
    api.patch(path, json={"price_cents": 999}, headers=admin_headers)
    after = api.get(path, headers=admin_headers)
    assert after.headers["X-Cache"] == "miss" and after.json()["price_cents"] == 999
    assert api.get(path, headers=admin_headers).headers["X-Cache"] == "hit"
    api.delete(path, headers=admin_headers)
    assert api.get(path, headers=admin_headers).status_code == 404


def test_an_order_invalidates_the_cached_stock(api, make_product):
    product = make_product(stock=5)
    path = f"/api/products/{product['id']}"
    api.get(path)
    customer = register_customer()
    order = api.post(
        "/api/orders",
        json={"items": [{"product_id": product["id"], "quantity": 2}]},
        headers=customer["headers"],
    )
    assert order.status_code == 201
    assert api.get(path, headers=customer["headers"]).json()["stock"] == 3


def _wait_for_container_health(container, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.attrs["State"].get("Health", {}).get("Status") == "healthy":
            return
        time.sleep(0.5)
    pytest.fail(f"{container.name} did not become healthy again")


def test_reads_and_writes_keep_working_with_redis_stopped(api, admin_headers, make_product, stack):
    product = make_product()
    path = f"/api/products/{product['id']}"
    api.get(path)
    redis = container_of(stack, "redis")
    redis.stop(timeout=5)
    try:
        for _ in range(5):
            response = api.get(path, headers=admin_headers)
            assert response.status_code == 200, response.text
            assert response.headers["X-Cache"] == "miss"
            assert response.json()["id"] == product["id"]
        assert api.get("/api/products", params={"q": product["name"]}).json()["total"] == 1
        patched = api.patch(path, json={"stock": 7}, headers=admin_headers)
        assert patched.status_code == 200, patched.text
        assert stock_of(product) == 7
    finally:
        redis.start()
        _wait_for_container_health(redis)
        wait_until_healthy()
