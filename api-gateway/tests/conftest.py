"""Fixtures: the gateway app, talking to the real services of the test stack."""

import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway import create_app
from gateway.config import Config

PASSWORD = "correct horse battery"


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
def auth_headers(client: FlaskClient) -> dict[str, str]:
    """Register a new customer through the gateway and return its bearer header."""
    email = f"gw-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": PASSWORD, "name": "Gateway"}
    assert client.post("/api/auth/register", json=body).status_code == 201
    tokens = client.post("/api/auth/login", json={"email": email, "password": PASSWORD}).json
    return {"Authorization": f"Bearer {tokens['access_token']}"}
