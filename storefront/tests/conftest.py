"""storefront's fixtures: a browser-like test client of the app, which calls the real gateway,
and products set up through the public API as the configured admin."""

import os
import re
import uuid
from collections.abc import Callable

import pytest
import redis
import requests
from flask.testing import FlaskClient

from flotilla_testing import accounts

API_URL = os.environ.get("API_URL", "http://api-gateway:8000")
PASSWORD = accounts.PASSWORD
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def api(method: str, path: str, **kwargs) -> requests.Response:
    """Call the public API through the gateway, as the storefront does."""
    return requests.request(method, API_URL + path, timeout=15, **kwargs)


bearer = accounts.bearer_of


@pytest.fixture(scope="session")
def store() -> redis.Redis:
    """The session store as its operator (the storefront's own user may not list or count)."""
    return redis.Redis.from_url(os.environ["SESSION_STORE_URL"])


@pytest.fixture
def make_product(admin_headers) -> Callable[..., dict]:
    """Create a product through the API: make_product(stock=3, name=...)."""

    def make(*, stock: int = 10, price_cents: int = 1250, name: str | None = None) -> dict:
        sku = f"sf-{uuid.uuid4().hex[:10]}"
        body = {
            "sku": sku,
            "name": name or f"Test kettle {sku}",
            "price_cents": price_cents,
            "stock": stock,
            "description": "A product of the storefront's tests.",
        }
        response = api("POST", "/api/products", json=body, headers=admin_headers)
        assert response.status_code == 201, response.text
        return response.json()

    return make


def csrf_of(client: FlaskClient, path: str = "/login") -> str:
    """Return the CSRF token a page's forms carry."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return CSRF.search(page.text)[1]


@pytest.fixture
def shopper(client) -> dict:
    """A new customer signed up and logged in through the storefront's own form."""
    email = f"shopper-{uuid.uuid4().hex[:12]}@example.com"
    response = client.post(
        "/signup",
        data={"name": "Ada", "email": email, "password": PASSWORD, "csrf_token": csrf_of(client)},
    )
    assert response.status_code == 302, response.text
    return {"email": email, "client": client, "headers": bearer(email, PASSWORD)}


def add_to_cart(client: FlaskClient, product_id: int, quantity: int) -> None:
    """Add a product to the cart with the product page's form."""
    token = csrf_of(client, f"/products/{product_id}")
    response = client.post(
        "/cart", data={"product_id": product_id, "quantity": quantity, "csrf_token": token}
    )
    assert response.status_code == 302, response.text


def checkout_form(client: FlaskClient) -> dict[str, str]:
    """Open the checkout page; return what its "Place order" form sends."""
    page = client.get("/checkout")
    assert page.status_code == 200, page.text
    return {"csrf_token": CSRF.search(page.text)[1], "idempotency_key": KEY.search(page.text)[1]}
