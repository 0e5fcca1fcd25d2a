"""Fixtures for tests that drive the whole stack through NGINX, as a client would."""

import os
import time
import uuid
from collections.abc import Callable

import docker
import pytest
import requests

BASE_URL = os.environ.get("BASE_URL", "http://nginx")
PROJECT = os.environ.get("COMPOSE_PROJECT_NAME", "flotilla-test")
PASSWORD = "correct horse battery"
TIMEOUT = 10


class Api(requests.Session):
    """A requests session whose paths are relative to NGINX."""

    def request(self, method: str, url: str, *args, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        return super().request(method, BASE_URL + url, *args, **kwargs)


@pytest.fixture
def api() -> Api:
    with Api() as session:
        yield session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def new_email() -> Callable[[], str]:
    return lambda: f"it-{uuid.uuid4().hex[:16]}@example.com"


@pytest.fixture
def account(api: Api, new_email: Callable[[], str]) -> dict:
    """A newly registered customer: its user document, password and tokens."""
    email = new_email()
    created = api.post(
        "/api/auth/register", json={"email": email, "password": PASSWORD, "name": "Client"}
    )
    assert created.status_code == 201, created.text
    tokens = api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return {**created.json(), "password": PASSWORD, **tokens.json()}


@pytest.fixture
def auth_headers(account: dict) -> dict[str, str]:
    return bearer(account["access_token"])


@pytest.fixture(scope="session")
def stack() -> list:
    """The containers of the Compose project under test."""
    client = docker.from_env()
    containers = client.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={PROJECT}"}
    )
    yield containers
    client.close()


def service_of(container) -> str:
    return container.labels["com.docker.compose.service"]


# --- Catalog and orders (docs/orders.md) ---------------------------------------------------


def login_headers(email: str, password: str) -> dict[str, str]:
    """Log in through NGINX; return the bearer header."""
    response = requests.post(
        f"{BASE_URL}/api/auth/login", json={"email": email, "password": password}, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


def register_customer() -> dict:
    """Register and log in a new customer; return its user document and auth headers."""
    email = f"it-{uuid.uuid4().hex[:16]}@example.com"
    created = requests.post(
        f"{BASE_URL}/api/auth/register",
        json={"email": email, "password": PASSWORD, "name": "Customer"},
        timeout=TIMEOUT,
    )
    assert created.status_code == 201, created.text
    return {**created.json(), "headers": login_headers(email, PASSWORD)}


@pytest.fixture(scope="module")
def admin_headers() -> dict[str, str]:
    """The configured first admin's bearer header."""
    return login_headers(os.environ["ADMIN_EMAIL"], os.environ["ADMIN_PASSWORD"])


@pytest.fixture
def make_product(api: Api, admin_headers: dict[str, str]) -> Callable[..., dict]:
    """Create a product (unique SKU) as the admin; return it."""

    def make(**fields) -> dict:
        body = {
            "sku": f"IT-{uuid.uuid4().hex[:20]}",
            "name": f"Test product {uuid.uuid4().hex[:12]}",
            "price_cents": 500,
            "stock": 10,
            **fields,
        }
        response = api.post("/api/products", json=body, headers=admin_headers)
        assert response.status_code == 201, response.text
        return response.json()

    return make


def stock_of(product: dict) -> int:
    """Return a product's stock from the database: searched by name, so never from the cache."""
    response = requests.get(
        f"{BASE_URL}/api/products", params={"limit": 100, "q": product["name"]}, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    return next(p["stock"] for p in response.json()["items"] if p["id"] == product["id"])


def wait_until_healthy(timeout: float = 120) -> None:
    """Wait until NGINX's /health says every service is ready again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{BASE_URL}/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    pytest.fail("the stack did not become healthy again")


def container_of(stack: list, service: str):
    """Return the project's container of one Compose service."""
    return next(c for c in stack if service_of(c) == service)
