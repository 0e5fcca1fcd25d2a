"""Fixtures for tests that drive the whole stack through NGINX, as a client would."""

import os
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
