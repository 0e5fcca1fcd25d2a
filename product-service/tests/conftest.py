"""product-service's fixtures; config, app, client, db, admin and customer headers come from
the flotilla plugin."""

import itertools
import os
from collections.abc import Callable

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from flotilla.db import Database
from product_service.cache import ProductCache

_skus = itertools.count(1)


@pytest.fixture
def cache(app: Flask) -> ProductCache:
    return app.extensions["product_service.cache"]


@pytest.fixture(autouse=True)
def clean(db: Database) -> Database:
    """Every test starts with an empty catalog, no reservations and an empty cache."""
    with db.transaction() as cursor:
        cursor.execute("TRUNCATE products, reservations RESTART IDENTITY CASCADE")
    # As the operator: product-service's own Redis user may touch its keys only, one by one.
    redis.Redis.from_url(os.environ["REDIS_OPERATOR_URL"]).flushdb()
    return db


@pytest.fixture
def make_product(client: FlaskClient, admin_headers: dict[str, str]) -> Callable[..., dict]:
    """Create a product through the API; return it."""

    def make(**fields) -> dict:
        body = {"sku": f"SKU-{next(_skus)}", "name": "Probe", "price_cents": 250, "stock": 10}
        response = client.post("/api/products", json={**body, **fields}, headers=admin_headers)
        assert response.status_code == 201, response.json
        return response.json

    return make
