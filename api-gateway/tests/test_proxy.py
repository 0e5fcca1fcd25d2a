"""Forwarding, seen from a stub upstream in the test process: what goes out, what comes back,
and what the gateway answers when an upstream misbehaves."""

import time

import pytest
import urllib3

import flotilla.clients
from flotilla import gunicorn_conf

from conftest import answer


def test_the_query_string_and_the_request_id_reach_the_service(stub_upstream, gateway_to):
    stub = stub_upstream()
    client = gateway_to(stub.url).test_client()
    response = client.get("/api/auth/x?b=2&a=%2F&c=a+b&d", headers={"X-Request-ID": "proxy-1"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "proxy-1"
    [received] = stub.received
    assert received.target == "/api/auth/x?b=2&a=%2F&c=a+b&d"  # exactly as sent
    assert received.header("X-Request-ID") == "proxy-1"


def test_a_query_string_that_is_not_ascii_is_400(stub_upstream, gateway_to):
    stub = stub_upstream()
    client = gateway_to(stub.url).test_client()
    response = client.get("/api/auth/x", environ_overrides={"QUERY_STRING": "q=\xff"})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"
    assert stub.received == []


HOP_BY_HOP_ANSWER = {
    "Connection": "keep-alive, X-Upstream-Hop",
    "X-Upstream-Hop": "only for the gateway",
    "Keep-Alive": "timeout=5",
    "Proxy-Authenticate": 'Basic realm="x"',
    "Upgrade": "h2c",
    "Trailer": "X-Checksum",
}
HOP_BY_HOP_REQUEST = {
    "Connection": "X-Client-Hop",
    "X-Client-Hop": "only for the gateway",
    "Keep-Alive": "timeout=5",
    "Proxy-Authorization": "Basic eDp5",
    "TE": "trailers",
    "Upgrade": "websocket",
}


def test_hop_by_hop_headers_are_dropped_both_ways(stub_upstream, gateway_to):
    stub = stub_upstream(lambda _: answer(headers={**HOP_BY_HOP_ANSWER, "X-End": "kept"}))
    client = gateway_to(stub.url).test_client()
    response = client.post(
        "/api/auth/login", json={}, headers={**HOP_BY_HOP_REQUEST, "X-End": "kept"}
    )
    assert response.status_code == 200
    assert response.headers["X-End"] == "kept"
    for name in HOP_BY_HOP_ANSWER:
        assert name not in response.headers, name
    [received] = stub.received
    assert received.header("X-End") == "kept"
    # Connection too: the gateway's own hop is HTTP/1.1, kept alive without one.
    for name in HOP_BY_HOP_REQUEST:
        assert received.header(name) is None, name


@pytest.mark.parametrize("cache_control", ["no-store", "private, max-age=0"])
def test_cache_control_passes_through(stub_upstream, gateway_to, cache_control):
    stub = stub_upstream(lambda _: answer(headers={"Cache-Control": cache_control}))
    response = gateway_to(stub.url).test_client().post("/api/auth/login", json={})
    assert response.headers["Cache-Control"] == cache_control


def test_an_upstream_answer_that_is_not_valid_http_is_502(stub_upstream, gateway_to):
    # Two different lengths: the HTTP client refuses the answer.
    stub = stub_upstream(lambda _: answer(headers={"Content-Length": "3"}))
    client = gateway_to(stub.url).test_client()
    response = client.get("/api/auth/x")
    assert response.status_code == 502
    assert response.json["error"]["code"] == "bad_gateway"


@pytest.mark.parametrize(
    "method, first",
    [
        ("HEAD", answer(body=b"{}").removesuffix(b"{}")),  # a GET's headers, no body
        ("GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
    ],
    ids=["head", "no-content"],
)
def test_an_answer_without_a_body_gives_its_connection_back(
    stub_upstream, gateway_to, method, first
):
    replies = iter([first, answer()])
    stub = stub_upstream(lambda _: next(replies))
    client = gateway_to(stub.url).test_client()
    assert client.open("/api/auth/x", method=method).status_code in {200, 204}
    assert client.get("/api/auth/x").status_code == 200
    assert [r.connection for r in stub.received] == [1, 1]


def partial_answer(length: int, sent: int) -> bytes:
    """The status line and headers of a body of `length` bytes, and its first `sent` bytes."""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % length + b"x" * sent


@pytest.mark.parametrize("close, status", [(False, 504), (True, 502)], ids=["stalls", "closes"])
def test_an_answer_that_breaks_off_early_is_a_json_error(stub_upstream, gateway_to, close, status):
    # Nothing was sent to the client yet: the gateway can still answer properly.
    stub = stub_upstream(lambda _: partial_answer(30, 6), close=close)
    response = gateway_to(stub.url, read_timeout=0.5).test_client().get("/api/auth/x")
    assert response.status_code == status
    assert response.json["error"]["code"] in {"gateway_timeout", "bad_gateway"}


@pytest.fixture
def stalls_midway(stub_upstream, gateway_to):
    """A gateway whose upstream sends more than the first chunk (64 KiB), then stalls."""
    stub = stub_upstream(lambda _: partial_answer(200_000, 70_000))
    return gateway_to(stub.url, read_timeout=0.5)


def test_an_answer_that_breaks_off_midway_is_cut_off_for_the_client_too(stalls_midway, caplog):
    response = stalls_midway.test_client().get("/api/auth/x")
    assert response.status_code == 200  # the client may have the first chunk by now
    with pytest.raises(urllib3.exceptions.HTTPError):  # the server cuts the connection
        response.get_data()
    assert "upstream answer cut off" in caplog.text


def close_if_idle(seconds: float):
    """A reply that closes, unanswered, a connection reused after `seconds` of idleness:
    what a server that closes idle keep-alive connections does to a request that arrives
    as it closes."""
    answered_at: dict[int, float] = {}

    def reply(received):
        last = answered_at.get(received.connection)
        if last is not None and time.monotonic() - last > seconds:
            return None
        answered_at[received.connection] = time.monotonic()
        return answer()

    return reply


@pytest.mark.parametrize(
    "pool_idle_seconds, status, connections",
    [
        # The pool closes the idle connection first: the POST goes out on a new one.
        (0.2, 200, [1, 2]),
        # What that prevents: the service closes as the POST arrives; it is never resent.
        (60, 503, [1, 1]),
    ],
)
def test_a_post_after_the_services_keep_alive_time(
    stub_upstream, gateway_to, monkeypatch, pool_idle_seconds, status, connections
):
    monkeypatch.setattr(flotilla.clients, "POOL_IDLE_SECONDS", pool_idle_seconds)
    stub = stub_upstream(close_if_idle(0.4))
    client = gateway_to(stub.url).test_client()
    assert client.post("/api/auth/login", json={}).status_code == 200
    time.sleep(0.6)
    assert client.post("/api/auth/login", json={}).status_code == status
    assert [r.connection for r in stub.received] == connections


def test_the_pool_forgets_idle_connections_well_before_the_services_do():
    assert gunicorn_conf.keepalive >= 2 * flotilla.clients.POOL_IDLE_SECONDS


CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    "first, kept",
    [
        (CHUNKED + b'4;x=y\r\n{"a"\r\n4\r\n: 1}\r\n0\r\nX-Trailer: t\r\n\r\n', True),
        (b"HTTP/1.1 100 Continue\r\n\r\n" + answer(body=b'{"a": 1}'), True),
        (b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + b'{"a": 1}', False),
        (answer(headers={"Connection": "close"}, body=b'{"a": 1}'), False),
    ],
    ids=["chunked", "continue", "http-1.0-to-the-end", "connection-close"],
)
def test_every_framing_of_an_answer_is_forwarded_whole(stub_upstream, gateway_to, first, kept):
    replies = iter([first, answer()])

    def reply(_):
        # The body of a 1.0 answer ends with its connection.
        return next(replies)

    stub = stub_upstream(reply, close=not kept)
    client = gateway_to(stub.url).test_client()
    response = client.get("/api/auth/x")
    assert response.status_code == 200
    assert response.json == {"a": 1}
    assert "Transfer-Encoding" not in response.headers
    assert client.get("/api/auth/x").status_code == 200
    assert [r.connection for r in stub.received] == ([1, 1] if kept else [1, 2])


def test_the_hop_adds_the_headers_of_the_new_connection(stub_upstream, gateway_to):
    stub = stub_upstream()
    client = gateway_to(stub.url).test_client()
    client.post("/api/auth/login", data=b"", headers={"Content-Type": "application/json"})
    client.get("/api/auth/x", headers={"User-Agent": "shop/1.0"})
    post, get = stub.received
    assert post.header("Content-Length") == "0"
    assert post.header("Host") == stub.url.removeprefix("http://")
    assert post.header("Accept-Encoding") == "identity"
    assert get.header("Content-Length") is None
    assert get.header("User-Agent") == "shop/1.0"


def test_a_get_on_a_connection_the_service_closed_goes_out_again(stub_upstream, gateway_to):
    stub = stub_upstream(close_if_idle(0.2))
    client = gateway_to(stub.url).test_client()
    assert client.get("/api/auth/x").status_code == 200
    time.sleep(0.4)
    assert client.get("/api/auth/x").status_code == 200  # refused once, sent again
    assert [r.connection for r in stub.received] == [1, 1, 2]
