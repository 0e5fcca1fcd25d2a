"""Routing: the table decides, tokens are checked first, and nothing escapes a prefix."""

import pytest

from flotilla.errors import ApiError
from gateway.proxy import clean_path


@pytest.mark.parametrize(
    "path, upstream",
    [
        ("/api/auth/login", "user-service"),
        ("/api/users/me", "user-service"),
        ("/api/products", "product-service"),
        ("/api/products/7", "product-service"),
        ("/api/orders", "order-service"),
        ("/api/orders/3/cancel", "order-service"),
        ("/api/notifications", "notification-service"),
        ("/api/notificationsX", None),
        ("/api/productsX", None),
        ("/api/auth", "user-service"),
        ("/api/users", "user-service"),
        ("/api/internal/reserve", None),
        ("/api", None),
    ],
)
def test_the_routing_table(config, path, upstream):
    route = config.route_for(path)
    assert (route.upstream if route else None) == upstream


@pytest.mark.parametrize("path", ["/api/nothing", "/api", "/api/", "/api/internal/reserve"])
def test_unknown_api_paths_are_404_json(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/api/auth/../../.well-known/jwks.json",
        "/api/auth/./login",
        "/api/users//me",
        "/api/products/../../internal/x",
    ],
)
def test_dot_segments_never_reach_a_service(path):
    with pytest.raises(ApiError) as raised:
        clean_path(path)
    assert raised.value.status == 404


def test_a_public_route_is_forwarded(client):
    response = client.post("/api/auth/login", json={"email": "nobody@example.com", "password": "x"})
    assert response.status_code == 401
    assert response.json["error"]["message"] == "Email or password is incorrect"


def test_a_protected_route_needs_a_token_before_it_is_forwarded(client):
    response = client.get("/api/users/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_a_valid_token_is_forwarded_with_the_request(client, auth_headers):
    response = client.get("/api/users/me", headers=auth_headers)
    assert response.status_code == 200
    assert response.json["role"] == "customer"


def test_a_bad_token_is_rejected_at_the_gateway(client):
    response = client.get("/api/orders", headers={"Authorization": "Bearer not.a.token"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_token"


@pytest.mark.parametrize("request_id", ["", "x" * 129, "has space", "semi;colon"])
def test_insane_request_ids_are_replaced(client, request_id):
    response = client.get("/api/nothing", headers={"X-Request-ID": request_id})
    assert response.headers["X-Request-ID"] != request_id
    assert len(response.headers["X-Request-ID"]) == 32
