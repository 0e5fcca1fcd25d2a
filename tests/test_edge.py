"""What NGINX and the gateway promise every client (API.md, "Errors", "Health")."""

import json
import socket

import pytest

from conftest import BASE_URL, bearer


def test_health_aggregates_every_service(api):
    response = api.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["services"]) == {"user-service", "product-service", "order-service"}


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/.well-known/jwks.json",
        "/livez",
        "/readyz",
        "/internal/anything",
        "/api/nothing",
        "/api/auth/../../.well-known/jwks.json",
        "/api/auth/%2e%2e/%2e%2e/.well-known/jwks.json",
        "/api/users/%2e%2e/%2e%2e/readyz",
    ],
)
def test_internal_and_unknown_paths_are_404_json(api, path):
    response = api.get(path, allow_redirects=False)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"


def test_a_sane_request_id_comes_back(api):
    response = api.get("/api/nothing", headers={"X-Request-ID": "client-id-123"})
    assert response.headers["X-Request-ID"] == "client-id-123"
    assert response.json()["error"]["request_id"] == "client-id-123"


@pytest.mark.parametrize("request_id", ["", "x" * 500, "bad id", "<script>"])
def test_an_insane_request_id_is_replaced(api, request_id):
    response = api.get("/api/nothing", headers={"X-Request-ID": request_id})
    assert response.headers["X-Request-ID"] not in {"", request_id}
    assert response.json()["error"]["request_id"] == response.headers["X-Request-ID"]


def test_every_response_has_the_security_headers(api):
    response = api.get("/health")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "nginx/" not in response.headers.get("Server", "")


def test_a_two_mebibyte_body_is_413_json_from_nginx(api):
    response = api.post(
        "/api/auth/register",
        data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_wrong_method_is_405_with_allow(api, auth_headers):
    response = api.delete("/api/users/me", headers=auth_headers)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_unauthenticated_requests_never_reach_user_service(api):
    response = api.get("/api/users/me", headers=bearer("x.y.z"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize(
    "length, status, code",
    [(5_000, 400, "bad_request"), (10_000, 414, "uri_too_long"), (100_000, 414, "uri_too_long")],
)
def test_long_query_strings_get_json_errors(api, length, status, code):
    response = api.get("/api/products", params={"q": "x" * length})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_a_malformed_request_gets_a_json_400_from_nginx():
    host = BASE_URL.removeprefix("http://")
    with socket.create_connection((host, 80), timeout=10) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nNot a header line\r\n\r\n")
        answer = connection.recv(4096).decode(errors="replace")
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400")
    assert json.loads(body)["error"]["code"] == "bad_request"
