"""user-service's fixtures; config, app, client and db come from the flotilla plugin."""

import itertools
from collections.abc import Callable, Iterator

import psycopg2
import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from flotilla.db import Database
from flotilla.relay import RELAY_JOB
from flotilla.worker import lock_key
from flotilla_testing.accounts import PASSWORD, bearer
from user_service import passwords
from user_service.admin import ensure_admin
from user_service.config import Config

_emails = itertools.count(1)


@pytest.fixture(scope="session", autouse=True)
def production_hasher() -> Iterator[PasswordHasher]:
    """Hash the suite's passwords at Argon2id's smallest cost; yield the production hasher.

    These tests check the flows around hashing, and RFC 9106's 64 MiB, t=3 per hash made the
    suite a minute slower; test_auth checks the production parameters with the hasher yielded.
    """
    production = passwords._hasher
    cheapest = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", cheapest)
        yield production


@pytest.fixture(scope="session", autouse=True)
def relay_paused(app: Flask, config: Config) -> Iterator[None]:
    """user-worker relays nothing while these tests run; their events never leave the database.

    Holding the relay job's advisory lock makes the worker skip its runs; the tests' users
    (their ids restart at 1) must not reach the consumers of user.registered.
    """
    conn = psycopg2.connect(config.database_url)
    conn.autocommit = True
    key = lock_key(app, RELAY_JOB)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", (key,))
        yield
        with conn.cursor() as cursor:
            cursor.execute("TRUNCATE outbox")
    finally:
        conn.close()  # releases the lock


@pytest.fixture(autouse=True)
def clean(app: Flask, db: Database) -> Database:
    """Every test starts with no users but the configured admin, and an empty outbox."""
    with db.transaction() as cursor:
        cursor.execute("TRUNCATE users, refresh_tokens, outbox RESTART IDENTITY CASCADE")
    with app.app_context():
        ensure_admin()
    return db


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


@pytest.fixture
def user(register: Callable[..., dict]) -> dict:
    return register()


@pytest.fixture
def auth_headers(user: dict, login: Callable[[str, str], dict]) -> dict[str, str]:
    return bearer(login(user["email"])["access_token"])


@pytest.fixture
def admin_headers(config: Config, login: Callable[[str, str], dict]) -> dict[str, str]:
    # In-process, not the plugin's session-wide one: each test re-creates the admin.
    return bearer(login(config.admin_email, config.admin_password)["access_token"])
