"""flotilla.clients against a real HTTP server misbehaving on purpose."""

import http.server
import json
import threading
import time
from collections.abc import Iterator

import pytest
import urllib3
from flask import g

import flotilla.clients
from flotilla import create_base_app
from flotilla.clients import ServiceClient, UpstreamError, connection_pool


class Upstream(http.server.BaseHTTPRequestHandler):
    """Answers POST /<status> with that status; /slow sleeps; /html is not JSON."""

    seen: list[dict] = []  # noqa: RUF012 (shared with the test on purpose)

    def do_POST(self) -> None:
        Upstream.seen.append(dict(self.headers))
        if self.path == "/slow":
            time.sleep(2)
        status = int(self.path.strip("/")) if self.path.strip("/").isdigit() else 200
        body, kind = json.dumps({"ok": True}).encode(), "application/json"
        if self.path == "/html":
            body, kind = b"<html>oops</html>", "text/html"
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except BrokenPipeError:
            pass

    def log_message(self, *args) -> None:
        pass


class KeepAlive(http.server.BaseHTTPRequestHandler):
    """Answers every GET and POST with {} and keeps the connection open; the server's
    `ports` lists the client port (which connection) of every request."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.ports.append(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.do_GET()

    def log_message(self, *args) -> None:
        pass


def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> http.server.HTTPServer:
    """Start a threading HTTP server on a free local port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.ports = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = serve(Upstream)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def keep_alive() -> Iterator[http.server.HTTPServer]:
    server = serve(KeepAlive)
    yield server
    server.shutdown()


@pytest.fixture
def client(upstream: str) -> ServiceClient:
    return ServiceClient(
        upstream, name="upstream", read_timeout=0.5, headers={"X-Service-Token": "t"}
    )


@pytest.mark.parametrize(
    "path, status, code",
    [
        ("/500", 502, "bad_gateway"),
        ("/503", 503, "service_unavailable"),
        ("/html", 502, "bad_gateway"),
        ("/slow", 504, "gateway_timeout"),
    ],
)
def test_failures_become_api_errors(client, path, status, code):
    with pytest.raises(UpstreamError) as raised:
        client.request("POST", path)
    assert (raised.value.status, raised.value.code) == (status, code)
    assert raised.value.sent  # it reached the service: the outcome is unknown


def test_an_unreachable_service_is_503():
    with pytest.raises(UpstreamError) as raised:
        ServiceClient("http://127.0.0.1:1", name="nobody").request("POST", "/")
    assert raised.value.status == 503 and not raised.value.sent


def test_an_unknown_host_fails_fast_and_unsent():
    client = ServiceClient("http://no-such-service.invalid:8000", name="x", connect_timeout=1)
    with pytest.raises(UpstreamError) as raised:
        client.request("POST", "/")
    assert raised.value.status == 503 and not raised.value.sent


def test_client_errors_are_returned_and_headers_passed_on(client):
    app = create_base_app(__name__, service="probe")
    with app.test_request_context("/"):
        g.request_id = "req-abc"
        response = client.request("POST", "/409", json={"a": 1})
    assert response.status_code == 409
    assert Upstream.seen[-1]["X-Request-ID"] == "req-abc"
    assert Upstream.seen[-1]["X-Service-Token"] == "t"


def url_of(server: http.server.HTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.mark.parametrize("idle_seconds, reused", [(60, True), (0.2, False)])
def test_a_pooled_connection_is_reused_until_it_has_been_idle_too_long(
    keep_alive, monkeypatch, idle_seconds, reused
):
    # gunicorn closes a keep-alive connection idle for 75 s: a POST sent on it as it closes
    # fails and cannot be sent again, so the pool gives up on it well before.
    monkeypatch.setattr(flotilla.clients, "POOL_IDLE_SECONDS", idle_seconds)
    client = ServiceClient(url_of(keep_alive), name="upstream")
    pool = connection_pool(url_of(keep_alive), 2)
    for send in (
        lambda: client.request("POST", "/", json={}),
        lambda: pool.urlopen("POST", "/", body=b"{}", retries=False),
    ):
        send()
        time.sleep(0.3)
        send()
    first, second, third, fourth = keep_alive.ports
    assert (first == second, third == fourth) == (reused, reused)


def test_a_name_that_does_not_resolve_in_time_is_503_unsent(a_lookup_that_hangs):
    client = ServiceClient(f"http://{a_lookup_that_hangs}:8000", name="x", connect_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(UpstreamError) as raised:
        client.request("POST", "/")
    assert raised.value.status == 503 and not raised.value.sent
    pool = connection_pool(f"http://{a_lookup_that_hangs}:8000", 1)
    with pytest.raises(urllib3.exceptions.NewConnectionError):
        pool.urlopen("GET", "/", retries=False, timeout=urllib3.Timeout(connect=0.3))
    assert time.monotonic() - started < 2


def test_lookups_that_hang_do_not_keep_other_names_from_resolving(a_lookup_that_hangs):
    # More callers than resolver threads (a Redis probe every second, for instance).
    assert not any(flotilla.clients.resolves(a_lookup_that_hangs, 80, 0.05) for _ in range(8))
    assert flotilla.clients.resolves("localhost", 80, 2)


def test_addresses_are_looked_up_within_the_timeout(a_lookup_that_hangs):
    assert "127.0.0.1" in flotilla.clients.addresses("localhost", 2)
    assert flotilla.clients.addresses("no-such-service", 2) is None
    started = time.monotonic()
    assert flotilla.clients.addresses(a_lookup_that_hangs, 0.1) is None
    assert time.monotonic() - started < 1
