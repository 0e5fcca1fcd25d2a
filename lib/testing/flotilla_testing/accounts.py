"""Test helpers for services: real accounts and tokens from the real user-service."""

import os
import uuid

import requests

USER_SERVICE = os.environ.get("USER_SERVICE_URL", "http://user-service:8000")
PASSWORD = "correct horse battery"


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header for an access token."""
    return {"Authorization": f"Bearer {token}"}


def login(email: str, password: str) -> dict:
    """Log in through the real user-service; return the token pair."""
    response = requests.post(
        f"{USER_SERVICE}/api/auth/login", json={"email": email, "password": password}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def bearer_of(email: str, password: str) -> dict[str, str]:
    """Log in; return the account's bearer header."""
    return bearer(login(email, password)["access_token"])


def admin_headers() -> dict[str, str]:
    """Return the configured first admin's bearer header."""
    return bearer_of(os.environ["ADMIN_EMAIL"], os.environ["ADMIN_PASSWORD"])


def new_customer(prefix: str) -> dict:
    """Register a new customer; return its id and bearer header."""
    email = f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"
    created = requests.post(
        f"{USER_SERVICE}/api/auth/register",
        json={"email": email, "password": PASSWORD, "name": "Customer"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    return {"id": created.json()["id"], "headers": bearer(login(email, PASSWORD)["access_token"])}
