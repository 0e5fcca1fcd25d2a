"""The gateway through NGINX: every bad token stops at the gateway, request ids travel
through every log, oversized bodies stop at NGINX, and the merged OpenAPI document."""

import json
import time
import uuid

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from openapi_spec_validator import validate

from flotilla_testing.tokens import FORGED_TOKENS, access_claims, forged_token

from conftest import bearer, container_of, logs_since, service_of, wait_for_log

# Run inside user-service: its current signing key and token settings, as JSON.
SIGNING_KEY_SNIPPET = """
import json
from cryptography.hazmat.primitives import serialization as s
from flotilla.db import Database
from user_service.config import Config
from user_service.tokens import Signer
c = Config.from_env()
key = Signer(c.tokens, Database(c.database_url), pem=c.private_key_pem, access_seconds=60).keys()[0]
pem = key.private_key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption())
print(json.dumps({"kid": key.kid, "pem": pem.decode(), "iss": c.tokens.issuer,
                  "aud": c.tokens.audience, "leeway": c.tokens.leeway_seconds}))
"""


@pytest.fixture(scope="module")
def signing(stack) -> dict:
    """user-service's signing key, read from its database through the container itself."""
    code, output = container_of(stack, "user-service").exec_run(
        ["python", "-c", SIGNING_KEY_SNIPPET]
    )
    assert code == 0, output
    found = json.loads(output.decode().strip().splitlines()[-1])
    found["key"] = serialization.load_pem_private_key(found["pem"].encode(), password=None)
    return found


@pytest.fixture
def claims(signing, account) -> dict:
    return access_claims(user_id=account["id"], issuer=signing["iss"], audience=signing["aud"])


def _bad_token(name: str, claims: dict, signing: dict, account: dict) -> str | None:
    if name == "no token":
        return None
    if name == "refresh token as access token":
        return account["refresh_token"]
    return forged_token(name, claims, signing["key"], signing["kid"], leeway=signing["leeway"])


# The forged-token catalogue, plus what a client can send without forging anything.
BAD_TOKENS = ["no token", "refresh token as access token", *FORGED_TOKENS]


@pytest.mark.parametrize("name", BAD_TOKENS)
def test_a_bad_token_is_401_at_the_gateway(api, stack, claims, signing, account, name):
    token = _bad_token(name, claims, signing, account)
    request_id = f"bad-token-{uuid.uuid4().hex}"
    headers = {"X-Request-ID": request_id, **(bearer(token) if token else {})}
    since = time.time() - 1
    response = api.get("/api/users/me", headers=headers)
    assert response.status_code == 401, name
    assert response.json()["error"]["code"] in {"unauthorized", "invalid_token", "token_expired"}
    # Stopped at the gateway (NGINX passed it on): the request never reached user-service,
    # which logs every request in the test stack. (An unknown kid may make the gateway
    # refetch the JWKS, at most once per interval, under the same id.)
    nginx_log = wait_for_log([container_of(stack, "nginx")], request_id, since)
    (line,) = json_lines(nginx_log, request_id)
    assert line["status"] == 401 and line["upstream"]
    service_log = logs_since([container_of(stack, "user-service")], since).splitlines()
    assert not [line for line in service_log if request_id in line and "/api/users/me" in line]


def test_a_good_token_and_one_expired_within_the_leeway_pass(api, claims, signing):
    for exp in (int(time.time()) + 300, int(time.time()) - signing["leeway"] + 10):
        token = jwt.encode(
            {**claims, "exp": exp},
            signing["key"],
            algorithm="RS256",
            headers={"kid": signing["kid"]},
        )
        assert api.get("/api/users/me", headers=bearer(token)).status_code == 200, exp


def json_lines(logs: str, request_id: str) -> list[dict]:
    """The JSON log lines that name request_id."""
    return [
        json.loads(line)
        for line in logs.splitlines()
        if request_id in line and line.startswith("{")
    ]


def test_one_access_line_per_request_written_by_nginx(api, stack, auth_headers):
    """API.md, "Logs": the gateway and notification-service log as shipped, so a request
    through them leaves one line, NGINX's, with every field of the contract."""
    request_id = f"trace-{uuid.uuid4().hex}"
    since = time.time() - 1
    headers = {**auth_headers, "X-Request-ID": request_id}
    response = api.get("/api/notifications", headers=headers)
    assert response.status_code == 200 and response.headers["X-Request-ID"] == request_id
    wait_for_log([container_of(stack, "nginx")], request_id, since)
    # The gateway's and the service's lines, were there any, arrive as fast as NGINX's.
    # On a loaded machine a hop may log the request as slow: that line is no access line.
    time.sleep(1)
    hops = [container_of(stack, name) for name in ("nginx", "api-gateway", "notification-service")]
    lines = json_lines(logs_since(hops, since), request_id)
    (line,) = [line for line in lines if line["service"] == "nginx"]
    assert {other["message"] for other in lines if other is not line} <= {"slow request"}
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/notifications", 200)
    assert line["bytes"] > 0 and line["duration_s"] >= 0 and line["remote_addr"]
    assert line["upstream"] and float(line["upstream_s"]) >= 0 and line["edge_cache"] == ""


def test_with_access_log_on_each_hop_logs_the_request_too(api, stack, auth_headers):
    """user-service runs with ACCESS_LOG=1 in the test stack: its own line joins NGINX's."""
    request_id = f"trace-{uuid.uuid4().hex}"
    since = time.time() - 1
    response = api.get("/api/users/me", headers={**auth_headers, "X-Request-ID": request_id})
    assert response.status_code == 200
    for service in ("nginx", "user-service"):
        containers = [c for c in stack if service_of(c) == service]
        (line,) = json_lines(wait_for_log(containers, request_id, since), request_id)
        assert line["status"] == 200 and line["path"] == "/api/users/me", service
    gateway_lines = json_lines(logs_since([container_of(stack, "api-gateway")], since), request_id)
    assert {line["message"] for line in gateway_lines} <= {"slow request"}


def test_a_gateway_with_access_log_on_names_the_client_its_proxy_saw(start_gateway):
    # The tests container is on a trusted (private) network, as NGINX is: the gateway
    # takes the client from X-Forwarded-For, and its line names the client it counted.
    gateway = start_gateway({"ACCESS_LOG": "1"})
    request_id, client = f"client-{uuid.uuid4().hex}", "2001:db8::7"
    since = time.time() - 1
    response = requests.get(
        f"http://{gateway.name}:8000/api/nothing",
        headers={"X-Request-ID": request_id, "X-Forwarded-For": client},
        timeout=10,
    )
    assert response.status_code == 404
    (line,) = json_lines(wait_for_log([gateway], request_id, since), request_id)
    assert (line["message"], line["client"], line["status"]) == ("request", client, 404)


@pytest.mark.parametrize("request_id", ["", "x" * 500])
def test_an_insane_request_id_is_replaced_everywhere(api, stack, auth_headers, request_id):
    since = time.time() - 1
    response = api.get("/api/users/me", headers={**auth_headers, "X-Request-ID": request_id})
    replaced = response.headers["X-Request-ID"]
    assert replaced and replaced != request_id and len(replaced) <= 128
    wait_for_log([container_of(stack, "user-service")], replaced, since)


def test_a_two_mebibyte_body_stops_at_nginx(api, stack):
    request_id = f"big-body-{uuid.uuid4().hex}"
    since = time.time() - 1
    response = api.post(
        "/api/auth/register",
        data=b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/json", "X-Request-ID": request_id},
    )
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "payload_too_large",
        "message": "Request body is larger than 1 MiB",
        "request_id": request_id,
    }
    wait_for_log([container_of(stack, "nginx")], request_id, since)
    assert request_id not in logs_since([container_of(stack, "api-gateway")], since)


# API.md's public operations, by the service that serves them.
PUBLIC_OPERATIONS = {
    "user-service": {
        ("POST", "/api/auth/register"),
        ("POST", "/api/auth/login"),
        ("POST", "/api/auth/refresh"),
        ("GET", "/api/users/me"),
        ("PATCH", "/api/users/me"),
        ("GET", "/api/users/{user_id}"),
    },
    "product-service": {
        ("GET", "/api/products"),
        ("POST", "/api/products"),
        ("GET", "/api/products/{product_id}"),
        ("PATCH", "/api/products/{product_id}"),
        ("DELETE", "/api/products/{product_id}"),
    },
    "order-service": {
        ("GET", "/api/orders"),
        ("POST", "/api/orders"),
        ("GET", "/api/orders/{order_id}"),
        ("POST", "/api/orders/{order_id}/cancel"),
    },
    "notification-service": {("GET", "/api/notifications")},
}


def _operations(document: dict) -> set[tuple[str, str]]:
    verbs = {"get", "put", "post", "patch", "delete"}
    return {
        (verb.upper(), path)
        for path, item in document["paths"].items()
        for verb in item
        if verb in verbs
    }


def _shape(operations: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Operations with their path parameters' names left out: {id} and {order_id} agree."""
    return {
        (verb, "/".join("{}" if p.startswith("{") else p for p in path.split("/")))
        for verb, path in operations
    }


def test_the_merged_openapi_document_validates_and_lists_every_public_route(api):
    response = api.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    documented = _shape(_operations(document))
    assert {("GET", "/api/openapi.json"), ("GET", "/api/docs")} <= documented
    # Every service serves its document: one that is missing fails here, not skipped.
    for service, operations in PUBLIC_OPERATIONS.items():
        assert _shape(operations) <= documented, service
    routed = (
        "/api/auth",
        "/api/users",
        "/api/products",
        "/api/orders",
        "/api/notifications",
        "/api/openapi.json",
        "/api/docs",
    )
    assert all(path.startswith(routed) for path in document["paths"])


def _concrete(path: str) -> str:
    """A path with every parameter set to an id that exists nowhere."""
    return "/".join("999999999" if part.startswith("{") else part for part in path.split("/"))


def test_each_operation_states_its_security_and_the_stack_agrees(api):
    """Without a token, an operation documented as public never answers 401; one that needs
    a token always does (before any check of its body or parameters)."""
    document = api.get("/api/openapi.json").json()
    assert "security" not in document  # every operation says it itself
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert "security" in operation, (method, path)
            response = api.request(method, _concrete(path), json={})
            public = operation["security"] == []
            assert (response.status_code == 401) != public, (method, path, response.text)


def test_a_method_the_gateway_itself_does_not_serve_is_405(api):
    for path in ("/api/openapi.json", "/api/docs", "/api/docs/swagger-ui.css"):
        response = api.put(path)
        assert response.status_code == 405, path
        assert response.json()["error"]["code"] == "method_not_allowed"
        assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
        options = api.options(path)
        assert options.status_code == 200, path
        assert set(options.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_the_docs_page_is_served_and_renders_the_document(api):
    response = api.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "/api/openapi.json" in response.text


def test_json_is_gzipped_for_clients_that_accept_it(api):
    response = api.get("/api/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.json()["openapi"].startswith("3.")  # requests inflates it
