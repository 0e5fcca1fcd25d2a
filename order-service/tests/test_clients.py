"""flotilla.clients against a real HTTP server misbehaving on purpose."""

import http.server
import json
import threading
import time
from collections.abc import Iterator

import pytest
from flask import g

from flotilla import create_base_app
from flotilla.clients import ServiceClient, UpstreamError


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


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
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
