"""Fixtures: the app against the real database and Redis, a clean catalog, real tokens."""

import itertools
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flotilla import testing
from flotilla.db import Database
from product_service import create_app
from product_service.cache import ProductCache
from product_service.config import Config
from product_service.internal import SERVICE_TOKEN_HEADER

_skus = itertools.count(1)


@pytest.fixture(scope="session")
def config() -> Config:
    return Config.from_env()


@pytest.fixture(scope="session")
def app(config: Config) -> Flask:
    return create_app(config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def cache(app: Flask) -> ProductCache:
    return app.extensions["product_cache"]


@pytest.fixture(autouse=True)
def db(app: Flask, cache: ProductCache) -> Database:
    """Every test starts with an empty catalog, no reservations and an empty cache."""
    database: Database = app.extensions["db"]
    with database.transaction() as cursor:
        cursor.execute("TRUNCATE products, reservations RESTART IDENTITY CASCADE")
    cache.client.flushdb()
    return database


@pytest.fixture(scope="session")
def admin_headers() -> dict[str, str]:
    """An admin's access token, issued by the real user-service."""
    return testing.admin_headers()


@pytest.fixture(scope="session")
def customer_headers() -> dict[str, str]:
    """A customer's access token, issued by the real user-service."""
    return testing.new_customer("product-tests")["headers"]


@pytest.fixture
def service_headers(config: Config) -> dict[str, str]:
    return {SERVICE_TOKEN_HEADER: config.internal_token}


@pytest.fixture
def make_product(client: FlaskClient, admin_headers: dict[str, str]) -> Callable[..., dict]:
    """Create a product through the API; return it."""

    def make(**fields) -> dict:
        body = {"sku": f"SKU-{next(_skus)}", "name": "Probe", "price_cents": 250, "stock": 10}
        response = client.post("/api/products", json={**body, **fields}, headers=admin_headers)
        assert response.status_code == 201, response.json
        return response.json

    return make
