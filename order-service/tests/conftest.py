"""order-service's fixtures; config, app, client, db and admin headers come from the
flotilla plugin."""

import itertools
import uuid
from collections.abc import Callable

import pytest
import requests

from flotilla.db import Database
from flotilla_testing import accounts
from order_service.config import Config

_skus = itertools.count(1)


@pytest.fixture(autouse=True)
def clean(db: Database) -> Database:
    """Every test starts with no orders, no idempotency keys and no events."""
    with db.transaction() as cursor:
        cursor.execute(
            "TRUNCATE orders, order_items, idempotency_keys, outbox RESTART IDENTITY CASCADE"
        )
    return db


@pytest.fixture(scope="session")
def alice() -> dict:
    return accounts.new_customer("order-tests")


@pytest.fixture(scope="session")
def bob() -> dict:
    return accounts.new_customer("order-tests")


@pytest.fixture(scope="session")
def catalog(config: Config, admin_headers: dict[str, str]) -> Callable[..., dict]:
    """Products through the real product-service's public API."""
    base = config.product_service_url

    class Catalog:
        def create(self, *, stock: int = 10, price_cents: int = 250, name: str = "Probe") -> dict:
            body = {
                "sku": f"ORD-{uuid.uuid4().hex[:10]}-{next(_skus)}",
                "name": name,
                "price_cents": price_cents,
                "stock": stock,
            }
            response = requests.post(
                f"{base}/api/products", json=body, headers=admin_headers, timeout=10
            )
            assert response.status_code == 201, response.text
            return response.json()

        def stock(self, product_id: int) -> int:
            response = requests.get(f"{base}/api/products/{product_id}", timeout=10)
            assert response.status_code == 200, response.text
            return response.json()["stock"]

    return Catalog()
