"""Fixtures: the app against the real database, a client, a clean state, auth headers."""

import itertools
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flotilla.db import Database
from user_service import create_app, ensure_admin
from user_service.config import Config

PASSWORD = "correct horse battery"
_emails = itertools.count(1)


@pytest.fixture(scope="session")
def config() -> Config:
    return Config.from_env()


@pytest.fixture(scope="session")
def app(config: Config) -> Flask:
    return create_app(config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(autouse=True)
def db(app: Flask, config: Config) -> Database:
    """Every test starts with no users but the configured admin."""
    database: Database = app.extensions["db"]
    with database.transaction() as cursor:
        cursor.execute("TRUNCATE users, refresh_tokens RESTART IDENTITY CASCADE")
    ensure_admin(database, config)
    return database


@pytest.fixture
def register(client: FlaskClient) -> Callable[..., dict]:
    """Create a customer; return the response body plus the password used."""

    def make(email: str | None = None, password: str = PASSWORD, name: str = "Ada") -> dict:
        email = email or f"user{next(_emails)}@example.com"
        response = client.post(
            "/api/auth/register", json={"email": email, "password": password, "name": name}
        )
        assert response.status_code == 201, response.json
        return {**response.json, "password": password}

    return make


@pytest.fixture
def login(client: FlaskClient) -> Callable[[str, str], dict]:
    """Log in; return the token pair."""

    def do(email: str, password: str = PASSWORD) -> dict:
        response = client.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.json
        return response.json

    return do


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def user(register: Callable[..., dict]) -> dict:
    return register()


@pytest.fixture
def auth_headers(user: dict, login: Callable[[str, str], dict]) -> dict[str, str]:
    return bearer(login(user["email"])["access_token"])


@pytest.fixture
def admin_headers(config: Config, login: Callable[[str, str], dict]) -> dict[str, str]:
    return bearer(login(config.admin_email, config.admin_password)["access_token"])
