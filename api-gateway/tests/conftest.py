"""The gateway's fixtures; config, app and client come from the flotilla plugin and talk to
the real services of the test stack."""

import uuid

import pytest
from flask.testing import FlaskClient

from flotilla_testing.accounts import PASSWORD, bearer


@pytest.fixture
def auth_headers(client: FlaskClient) -> dict[str, str]:
    """Register a new customer through the gateway and return its bearer header."""
    email = f"gw-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": PASSWORD, "name": "Gateway"}
    assert client.post("/api/auth/register", json=body).status_code == 201
    tokens = client.post("/api/auth/login", json={"email": email, "password": PASSWORD}).json
    return bearer(tokens["access_token"])
