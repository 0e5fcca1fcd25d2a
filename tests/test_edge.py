"""What NGINX and the gateway promise every client (API.md, "Errors", "Health", "Edge
cache", the flood guard under "Gateway behaviour", and "Logs")."""

import contextlib
import http.client
import json
import socket
import time
import uuid

import docker
import pytest
import requests

from conftest import (
    BASE_URL,
    bearer,
    container_of,
    logs_since,
    upstreams,
    wait_for_health,
    wait_for_log,
    wait_until,
    wait_until_healthy,
)

NGINX_HOST = BASE_URL.removeprefix("http://")
# What NGINX's own 405 lists: the methods it passes on to the gateway.
API_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"


def test_health_aggregates_every_service(api):
    response = api.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["services"]) == set(upstreams())


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/jwks.json",
        "/livez",
        "/readyz",
        "/internal/anything",
        "/api/nothing",
        "/api/auth/../../.well-known/jwks.json",
        "/api/auth/%2e%2e/%2e%2e/.well-known/jwks.json",
        "/api/users/%2e%2e/%2e%2e/readyz",
        "/_errors/error.json",
        "/openapi.json",
    ],
)
def test_internal_and_unknown_paths_are_404_json(api, path):
    response = api.get(path, allow_redirects=False)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.needs("storefront")
def test_everything_else_is_the_shop(api):
    # The storefront serves / and its pages; a page it does not have is its own HTML 404.
    shop = api.get("/")
    assert shop.status_code == 200 and shop.headers["Content-Type"].startswith("text/html")
    assert "unsafe-inline" not in shop.headers["Content-Security-Policy"]
    missing = api.get("/nginx-health/x")
    assert missing.status_code == 404 and "We could not find that page." in missing.text


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


# --- NGINX's own answers (API.md, "Errors"), with bytes requests would not send ---------


def send_raw(data: bytes) -> tuple[int, http.client.HTTPMessage, dict]:
    """Send bytes to NGINX as they are; return its status, headers and JSON error."""
    with socket.create_connection((NGINX_HOST, 80), timeout=10) as connection:
        connection.sendall(data)
        response = http.client.HTTPResponse(connection)
        response.begin()
        body = response.read()
    assert response.headers["Content-Type"] == "application/json", body
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    error = json.loads(body)["error"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    return response.status, response.headers, error


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "FOO", "PROPFIND", "M-SEARCH"])
def test_a_method_the_api_does_not_use_is_405_json_at_nginx(stack, method):
    request_id = f"method-{uuid.uuid4().hex}"
    since = time.time() - 1
    status, headers, error = send_raw(
        f"{method} /api/products HTTP/1.1\r\nHost: nginx\r\n"
        f"X-Request-ID: {request_id}\r\n\r\n".encode()
    )
    assert status == 405
    assert headers["Allow"] == API_METHODS
    assert error == {
        "code": "method_not_allowed",
        "message": "Method not allowed",
        "request_id": request_id,
    }
    assert (
        access_lines(container_of(stack, "nginx"), [request_id], since)[request_id]["upstream"]
        == ""
    )
    assert request_id not in logs_since([container_of(stack, "api-gateway")], since)


def access_lines(nginx, request_ids: list[str], since: float) -> dict[str, dict]:
    """NGINX's access line of each request id (each has exactly one)."""
    logs = wait_for_log([nginx], request_ids[-1], since)
    found: dict[str, list[dict]] = {request_id: [] for request_id in request_ids}
    for line in logs.splitlines():
        if line.startswith("{") and json.loads(line).get("request_id") in found:
            found[json.loads(line)["request_id"]].append(json.loads(line))
    assert all(len(lines) == 1 for lines in found.values()), found
    return {request_id: lines[0] for request_id, lines in found.items()}


def test_every_api_method_passes_nginx(api, stack):
    request_ids = [f"pass-{uuid.uuid4().hex}" for _ in API_METHODS.split(", ")]
    since = time.time() - 1
    for method, request_id in zip(API_METHODS.split(", "), request_ids, strict=True):
        response = api.request(method, "/api/nothing", headers={"X-Request-ID": request_id})
        assert response.headers.get("Allow") != API_METHODS, method
    # NGINX's access line names the gateway's address when it passed the request on.
    lines = access_lines(container_of(stack, "nginx"), request_ids, since)
    assert all(lines[request_id]["upstream"] for request_id in request_ids), lines


@pytest.mark.parametrize(
    "request_bytes, status, code",
    [
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: x\r\nNot a header line\r\n\r\n",
            400,
            "bad_request",
            id="header",
        ),
        pytest.param(b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request", id="lowercase"),
        pytest.param(b"\x00\x01\x02 nonsense\r\n\r\n", 400, "bad_request", id="binary"),
        pytest.param(b"GET /api/products HTTP/1.1\r\n\r\n", 400, "bad_request", id="no-host"),
        pytest.param(
            b"GET /api/products\tHTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request", id="tab"
        ),
        pytest.param(
            b"POST /api/products HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n",
            400,
            "bad_request",
            id="content-length",
        ),
        pytest.param(
            b"POST /api/products HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            400,
            "bad_request",
            id="length-and-chunked",
        ),
        pytest.param(
            b"POST /api/products HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
            "not_implemented",
            id="transfer-encoding",
        ),
        pytest.param(
            b"GET /api/products HTTP/2.0\r\nHost: x\r\n\r\n",
            505,
            "http_version_not_supported",
            id="http-version",
        ),
    ],
)
def test_a_malformed_request_gets_a_json_error_from_nginx(request_bytes, status, code):
    answer_status, _, error = send_raw(request_bytes)
    assert (answer_status, error["code"]) == (status, code)


def test_connect_to_an_authority_is_refused_with_json():
    # NGINX 1.22 cannot parse the authority form (400); later versions refuse CONNECT (405).
    status, headers, error = send_raw(b"CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (status, error["code"]) in {(400, "bad_request"), (405, "method_not_allowed")}
    assert status == 400 or headers["Allow"] == API_METHODS


@pytest.mark.parametrize(
    "headers",
    [
        b"Cookie: " + b"c" * 9_000 + b"\r\n",  # one line over a buffer (8 KiB)
        b"".join(b"X-Padding-%d: %s\r\n" % (i, b"p" * 7_000) for i in range(6)),  # over 32 KiB
    ],
    ids=["one-long-header", "too-many-header-bytes"],
)
def test_request_headers_too_large_are_431_json(headers):
    status, _, error = send_raw(b"GET /api/products HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert status == 431
    assert error["code"] == "request_header_fields_too_large"


def test_a_stalled_request_is_cut_off_at_nginx(stack):
    """A client that stops sending loses its connection after NGINX's 10 s client timeouts.

    NGINX never answers 408: it closes the connection without a byte (and logs 408)."""
    request_ids = [f"stall-{uuid.uuid4().hex}" for _ in range(2)]
    since = time.time() - 1
    unfinished = [
        # Headers that never end.
        f"GET /api/products HTTP/1.1\r\nHost: x\r\nX-Request-ID: {request_ids[0]}\r\n",
        # A body that never ends.
        f"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nX-Request-ID: {request_ids[1]}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    ]
    connections = [socket.create_connection((NGINX_HOST, 80), timeout=30) for _ in unfinished]
    try:
        for connection, data in zip(connections, unfinished, strict=True):
            connection.sendall(data.encode())
        for connection in connections:
            assert connection.recv(4096) == b""  # socket.timeout if NGINX kept waiting
    finally:
        for connection in connections:
            connection.close()
    nginx = container_of(stack, "nginx")
    logs = wait_for_log([nginx], request_ids[-1], since)
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    for request_id in request_ids:
        assert [
            (line["status"], line["bytes"]) for line in lines if line["request_id"] == request_id
        ] == [(408, 0)]
    assert request_ids[1] not in logs_since([container_of(stack, "api-gateway")], since)


# --- The edge cache of anonymous catalog reads (API.md, "Edge cache") -----------------------

RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
# NGINX keeps time in whole seconds: an entry valid for 1 s is answered until the end of the
# second after the one it was stored in, so it is refreshed within 2 s at the latest.
EDGE_FRESH_SECONDS = 2


def anonymous_read(path: str, **params) -> requests.Response:
    """Read the catalog as an anonymous client, with a new request id."""
    request_id = f"edge-{uuid.uuid4().hex}"
    response = requests.get(
        BASE_URL + path, params=params, headers={"X-Request-ID": request_id}, timeout=10
    )
    assert response.headers["X-Request-ID"] == request_id
    return response


def test_anonymous_catalog_reads_come_from_the_edge_cache(make_product):
    product = make_product()
    path = f"/api/products/{product['id']}"
    first, second = anonymous_read(path), anonymous_read(path)
    assert first.headers["X-Edge-Cache"] == "MISS" and second.headers["X-Edge-Cache"] == "HIT"
    assert first.json() == second.json() == product
    for answer in (first, second):
        # Each carries its own request id (checked above) and the edge's headers, never the
        # counts of the request that filled the entry.
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert not [name for name in RATE_LIMIT_HEADERS if name in answer.headers]
    # The key is the whole URI: another query is another entry.
    listed = [anonymous_read("/api/products", q=product["name"]) for _ in range(2)]
    assert [r.headers["X-Edge-Cache"] for r in listed] == ["MISS", "HIT"]
    assert (
        anonymous_read("/api/products", q=product["name"], limit=5).headers["X-Edge-Cache"]
        == "MISS"
    )
    head = requests.head(BASE_URL + path, timeout=10)
    assert head.status_code == 200 and head.headers["X-Edge-Cache"] in {"HIT", "EXPIRED"}


def test_a_write_is_seen_at_once_with_a_token_and_soon_anonymously(
    api, admin_headers, make_product
):
    product = make_product(stock=10)
    path = f"/api/products/{product['id']}"
    assert anonymous_read(path).json()["stock"] == 10
    assert api.patch(path, json={"stock": 3}, headers=admin_headers).status_code == 200
    written = time.monotonic()
    with_token = api.get(path, headers=admin_headers)
    assert with_token.json()["stock"] == 3
    assert with_token.headers["X-Edge-Cache"] == "BYPASS"
    assert all(name in with_token.headers for name in RATE_LIMIT_HEADERS)
    while (answer := anonymous_read(path)).json()["stock"] != 3:
        assert answer.headers["X-Edge-Cache"] == "HIT"
        assert time.monotonic() - written < EDGE_FRESH_SECONDS, "the edge kept an old answer"
        time.sleep(0.05)
    # A read with a token never filled the cache: the anonymous one above did.
    assert answer.headers["X-Edge-Cache"] in {"EXPIRED", "MISS"}


def test_with_product_service_stopped_held_reads_are_stale_and_others_503(
    api, admin_headers, make_product, stack
):
    held, unheld = make_product(), make_product()
    held_path = f"/api/products/{held['id']}"
    assert anonymous_read(held_path).headers["X-Edge-Cache"] == "MISS"
    service = container_of(stack, "product-service")
    service.stop(timeout=5)
    try:
        stale = anonymous_read(held_path)
        deadline = time.monotonic() + EDGE_FRESH_SECONDS + 1
        while stale.headers["X-Edge-Cache"] == "HIT" and time.monotonic() < deadline:
            time.sleep(0.1)
            stale = anonymous_read(held_path)
        assert stale.status_code == 200 and stale.headers["X-Edge-Cache"] == "STALE"
        assert stale.json() == held
        missing = anonymous_read(f"/api/products/{unheld['id']}")
        assert missing.status_code == 503, missing.text
        assert missing.json()["error"]["code"] == "service_unavailable"
        assert missing.json()["error"]["request_id"] == missing.headers["X-Request-ID"]
    finally:
        service.start()
        wait_for_health(service)
        wait_until_healthy()
        # The gateway's breakers close at their next trial call: reads with a token pass.
        wait_until(
            lambda: api.get(held_path, headers=admin_headers).status_code == 200,
            30,
            "the catalog to answer again",
        )


# --- The flood guard (API.md, "Gateway behaviour") ------------------------------------------


@pytest.fixture(scope="module")
def guarded_nginx(stack):
    """Base URL of an NGINX like the stack's with a small flood guard: 1 r/s, burst 2."""
    from test_nginx_real_ip import edge_network, run_nginx

    network = edge_network(stack)
    env = {"NGINX_FLOOD_RATE": "1r/s", "NGINX_FLOOD_BURST": "2"}
    container = run_nginx(stack, "", network=network.name, env=env)
    try:
        url = f"http://{container.name}"

        def answers() -> bool:
            with contextlib.suppress(requests.RequestException):
                return requests.get(f"{url}/nginx-health", timeout=2).status_code in {200, 429}
            return False

        wait_until(answers, 30, f"{container.name} to start")
        yield url
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def test_the_flood_guard_answers_json_429_with_retry_after(guarded_nginx):
    time.sleep(2)  # the bucket drains from the start-up probes above
    paths = ["/health", "/api/products", "/api/nothing", "/health", "/", "/api/products"]
    answers = [requests.get(guarded_nginx + path, timeout=10) for path in paths]
    refused = [answer for answer in answers if answer.status_code == 429]
    # One plus the burst pass; every location refuses the rest, the storefront's included.
    assert len(refused) >= len(paths) - 3, [a.status_code for a in answers]
    assert any(answer.request.path_url == "/" for answer in refused)
    for answer in refused:
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.headers["Retry-After"] == "1"
        assert answer.json()["error"] == {
            "code": "rate_limited",
            "message": "Too many requests from this address; slow down",
            "request_id": answer.headers["X-Request-ID"],
        }
