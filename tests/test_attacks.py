"""No input reaches a 500, no stolen token lasts (API.md, "Errors" and "Auth").

Hostile bytes in every part of a request, sent through NGINX to every public route family,
get a 4xx JSON error; logout and a password change end sessions; a key removed from the
JWKS stops working within the refresh interval, without restarts."""

import http.client
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import docker
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from flotilla_testing.tokens import access_claims, sign

from conftest import BASE_URL, PASSWORD, TIMEOUT, bearer, network_of, register_customer

NGINX_HOST = BASE_URL.removeprefix("http://")
Answer = tuple[int, http.client.HTTPMessage, bytes]


def send(
    method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes | None = None
) -> Answer:
    """Send one request to NGINX byte for byte (requests refuses to send most of these)."""
    lines = [b"%s %s HTTP/1.1" % (method.encode(), target), b"Host: nginx", b"Connection: close"]
    if body is not None:
        lines += [b"Content-Type: application/json", b"Content-Length: %d" % len(body)]
    lines += [b"%s: %s" % header for header in headers]
    with socket.create_connection((NGINX_HOST, 80), timeout=TIMEOUT) as connection:
        connection.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + (body or b""))
        response = http.client.HTTPResponse(connection)
        response.begin()
        return response.status, response.headers, response.read()


def assert_json_4xx(answer: Answer) -> dict:
    """Assert API.md's JSON error with a 4xx status; return the error."""
    status, headers, body = answer
    assert 400 <= status < 500, (status, body[:300])
    assert headers["Content-Type"] == "application/json", body[:300]
    error = json.loads(body)["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    # What gunicorn refuses while parsing carries its own id in the body (docs/gateway.md).
    assert error["request_id"] and headers["X-Request-ID"]
    return error


@pytest.fixture(scope="module")
def customer() -> dict:
    return register_customer()


@pytest.fixture(scope="module")
def credentials(customer, admin_headers) -> dict[str | None, list[tuple[bytes, bytes]]]:
    """The raw Authorization header of each kind of caller."""
    return {
        None: [],
        "customer": [(b"Authorization", customer["headers"]["Authorization"].encode())],
        "admin": [(b"Authorization", admin_headers["Authorization"].encode())],
    }


# --- Every byte sequence, every route family: a 4xx JSON error, never a 500 ----------------

Body = Callable[[dict], dict]
# Every public route that reads a body: who calls it and a valid body (from the customer).
BODY_ROUTES: dict[str, tuple[str, str, str | None, Body]] = {
    "register": (
        "POST",
        "/api/auth/register",
        None,
        lambda _: {"email": f"{uuid.uuid4().hex}@example.com", "password": PASSWORD, "name": "X"},
    ),
    "login": (
        "POST",
        "/api/auth/login",
        None,
        lambda customer: {"email": customer["email"], "password": PASSWORD},
    ),
    "refresh": ("POST", "/api/auth/refresh", None, lambda _: {"refresh_token": "never issued"}),
    "logout": ("POST", "/api/auth/logout", None, lambda _: {"refresh_token": "never issued"}),
    "patch me": (
        "PATCH",
        "/api/users/me",
        "customer",
        lambda _: {"name": "Attacked", "current_password": PASSWORD},
    ),
    "create product": (
        "POST",
        "/api/products",
        "admin",
        lambda _: {
            "sku": f"AT-{uuid.uuid4().hex[:20]}",
            "name": "Attack",
            "description": "None",
            "price_cents": 1,
            "stock": 1,
        },
    ),
    "patch product": (
        "PATCH",
        "/api/products/999999999",
        "admin",
        lambda _: {"name": "Attack", "description": "None"},
    ),
    "order": (
        "POST",
        "/api/orders",
        "customer",
        lambda _: {"items": [{"product_id": 999999999, "quantity": 1}]},
    ),
}
# One request per public route family (and the gateway's own routes), as a client sends it:
# each would succeed, so a hostile byte that slipped through would show as a 2xx.
FAMILIES: dict[str, tuple[str, str, str | None, Body | None]] = {
    "auth": BODY_ROUTES["login"],
    "users": ("GET", "/api/users/me", "customer", None),
    "products": ("GET", "/api/products", None, None),
    "orders": ("GET", "/api/orders", "customer", None),
    "notifications": ("GET", "/api/notifications", "customer", None),
    "gateway openapi": ("GET", "/api/openapi.json", None, None),
    "gateway health": ("GET", "/health", None, None),
}

# Header values: what str.isspace() and re's \s take for whitespace (an HTTP client may
# refuse to forward a value that starts with one), other controls, bytes beyond ASCII.
# (X-Request-ID and X-Forwarded-For are not here: NGINX replaces what a client sends.)
WHITESPACE_TO_PYTHON = [0xA0, 0x85, 0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x1F]
HEADER_ATTACKS = [
    *[(b"X-Attack", bytes([byte]) + b"value") for byte in WHITESPACE_TO_PYTHON],
    *[(b"X-Attack", bytes([byte]) + b"value") for byte in (0x01, 0x7F, 0x80, 0xFF)],
    (b"X-Attack", b"value\xa0"),
    (b"X-Attack", b"a\x00b"),
    (b"Authorization", b"Bearer \xa0token"),
    (b"Content-Type", b"application/json\x1f"),
    (b"Idempotency-Key", b"\x0bkey"),
]
QUERY_ATTACKS = [b"?q=%00", b"?q=%FF", b"?q=%ED%A0%80", b"?q=%0B", b"?q=\xff", b"?limit=%00"]
PATH_ATTACKS = [b"/%00", b"/%FF", b"/\xff", b"/%ED%A0%80", b"%0A"]
RAW_BODIES = {
    "100000 [": b"[" * 100_000,
    "50000 {": b'{"a":' * 50_000,
    "40 deep": b'{"name": ' + b"[" * 39 + b"1" + b"]" * 39 + b"}",
    "lone surrogate key": b'{"\\ud800": 1}',
    "utf-8 encoded surrogate": b'{"name": "\xed\xa0\x80"}',
    "invalid utf-8": b'{"name": "\xff\xfe"}',
    "utf-16": '{"name": "x"}'.encode("utf-16"),
    "5000 digits": b'{"name": ' + b"9" * 5000 + b"}",
    "1e999": b'{"name": 1e999}',
}
# Inside an otherwise valid body: what PostgreSQL or UTF-8 cannot hold.
STRING_ATTACKS = {"NUL": "a\x00b", "lone surrogate": "\ud800"}


def _family_cases() -> Iterator:
    for family, route in FAMILIES.items():
        for name, value in HEADER_ATTACKS:
            case = f"{family}-{name.decode()}-{value!r}"
            yield pytest.param(route, [(name, value)], b"", id=case)
        for suffix in QUERY_ATTACKS + PATH_ATTACKS:
            yield pytest.param(route, [], suffix, id=f"{family}-{suffix!r}")


@pytest.mark.parametrize("route, headers, suffix", list(_family_cases()))
def test_hostile_bytes_in_headers_path_and_query_are_a_4xx(
    customer, credentials, route, headers, suffix
):
    method, path, caller, body = route
    raw_body = json.dumps(body(customer)).encode() if body else None
    answer = send(method, path.encode() + suffix, credentials[caller] + headers, raw_body)
    assert_json_4xx(answer)


def _body_cases() -> Iterator:
    for route_name, route in BODY_ROUTES.items():
        for name, body in RAW_BODIES.items():
            yield pytest.param(route, lambda _, body=body: body, id=f"{route_name}-{name}")
        fields = route[3]({"email": "x@example.com"})
        for field in (name for name, value in fields.items() if isinstance(value, str)):
            for name, bad in STRING_ATTACKS.items():

                def body(customer: dict, route=route, field=field, bad=bad) -> bytes:
                    return json.dumps({**route[3](customer), field: bad}).encode()

                yield pytest.param(route, body, id=f"{route_name}-{field}-{name}")


@pytest.mark.parametrize("route, body", list(_body_cases()))
def test_hostile_bodies_are_a_4xx(customer, credentials, route, body):
    method, path, caller, _ = route
    assert_json_4xx(send(method, path.encode(), credentials[caller], body(customer)))


# --- Stolen tokens: logout, password change, no caching -------------------------------------


def login(api, email: str, password: str = PASSWORD) -> requests.Response:
    return api.post("/api/auth/login", json={"email": email, "password": password})


def test_token_answers_are_never_cached(api, account):
    for response in (
        login(api, account["email"]),
        api.post("/api/auth/refresh", json={"refresh_token": account["refresh_token"]}),
    ):
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"


def test_logout_needs_no_access_token_and_ends_the_chain(api, account):
    rotated = api.post("/api/auth/refresh", json={"refresh_token": account["refresh_token"]})
    assert rotated.status_code == 200
    # Logging out with the old token ends the tokens rotated from it too.
    response = api.post("/api/auth/logout", json={"refresh_token": account["refresh_token"]})
    assert response.status_code == 204
    assert response.content == b""
    for token in (account["refresh_token"], rotated.json()["refresh_token"]):
        again = api.post("/api/auth/refresh", json={"refresh_token": token})
        assert again.status_code == 401
    unknown = api.post("/api/auth/logout", json={"refresh_token": "never issued"})
    assert unknown.status_code == 204


def test_a_stolen_access_token_cannot_change_the_password(api, account, auth_headers):
    new_password = "the thief's password"
    stolen = api.patch("/api/users/me", json={"password": new_password}, headers=auth_headers)
    assert stolen.status_code == 422
    assert "current_password" in stolen.json()["error"]["fields"]
    guessed = api.patch(
        "/api/users/me",
        json={"password": new_password, "current_password": "a guess"},
        headers=auth_headers,
    )
    assert guessed.status_code == 403
    assert guessed.json()["error"]["code"] == "forbidden"
    assert login(api, account["email"]).status_code == 200


def test_a_password_change_ends_every_session(api, account, auth_headers):
    other = login(api, account["email"]).json()
    changed = api.patch(
        "/api/users/me",
        json={"password": "a new password", "current_password": PASSWORD},
        headers=auth_headers,
    )
    assert changed.status_code == 200
    for token in (account["refresh_token"], other["refresh_token"]):
        assert api.post("/api/auth/refresh", json={"refresh_token": token}).status_code == 401
    assert login(api, account["email"], "a new password").status_code == 200


# --- A key removed from the JWKS stops working without restarts ----------------------------

REFRESH_SECONDS = 1


class KeyServer(ThreadingHTTPServer):
    """Serves the JWKS a gateway verifies with (GET /jwks.json), and answers 200 to anything
    else as its upstream: a 200 means the gateway accepted the token."""

    def __init__(self) -> None:
        super().__init__(("0.0.0.0", 0), _KeyHandler)
        self.keys: list[dict] = []
        self.jwks_loads = 0

    @property
    def url(self) -> str:
        # This container's address on the backend network, where the gateways reach it (its
        # first address may be on a network they are not on).
        me = docker.from_env().containers.get(socket.gethostname())
        address = network_of(me, "backend")[1]["IPAddress"]
        return f"http://{address}:{self.server_port}"


class _KeyHandler(BaseHTTPRequestHandler):
    server: KeyServer

    def do_GET(self) -> None:
        if self.path == "/jwks.json":
            self.server.jwks_loads += 1
            body = json.dumps({"keys": list(self.server.keys)}).encode()
        else:
            body = b'{"reached": "upstream"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    server = KeyServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_key_removed_from_the_jwks_stops_working_within_the_interval(key_server, start_gateway):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "rotated-out"}
    key_server.keys = [{**jwk, "alg": "RS256", "use": "sig"}]
    gateway = start_gateway(
        {
            "JWKS_URL": f"{key_server.url}/jwks.json",
            "JWKS_REFRESH_SECONDS": str(REFRESH_SECONDS),
            "ORDER_SERVICE_URL": key_server.url,
        }
    )
    claims = access_claims(user_id=1, issuer="flotilla", audience="flotilla-api")
    headers = bearer(sign(claims, key, "rotated-out"))
    url = f"http://{gateway.name}:8000/api/orders"

    def status() -> int:
        return requests.get(url, headers=headers, timeout=TIMEOUT).status_code

    assert status() == 200  # the gateway trusts the key and forwards
    key_server.keys = []
    removed_at = time.monotonic()
    while status() == 200:
        assert time.monotonic() - removed_at < REFRESH_SECONDS + 3, "the key is still trusted"
        time.sleep(0.1)
    response = requests.get(url, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    assert key_server.jwks_loads >= 2  # reloaded by the running gateway, not restarted
