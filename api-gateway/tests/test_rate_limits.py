"""Rate limits in the real Redis: per user, per client address, stricter for login and sign-up.

Each test counts against keys nobody else uses (a fresh address or a fresh user), so the
traffic of other tests never changes the numbers."""

import dataclasses
import json
import socket
import statistics
import time
import uuid

import pytest

from flotilla.redis_client import PAUSE_SECONDS
from gateway import ratelimit
from gateway.config import Limit, TrustedProxies


def fresh_ip() -> str:
    """An address of the documentation range that no other test uses."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


@pytest.fixture(scope="module")
def limited_app(config, app_with):
    limits = dataclasses.replace(config.rate_limits, default=Limit(3, 60), auth=Limit(2, 60))
    return app_with(rate_limits=limits)


def client_at(app, address: str):
    """A test client whose requests come from address."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def finished(response) -> int:
    """Read a streamed response to its end; return its status."""
    response.get_data()
    return response.status_code


def test_n_requests_pass_then_429_with_retry_after(limited_app):
    client = client_at(limited_app, fresh_ip())
    remaining = []
    for _ in range(3):
        response = client.get("/api/nothing")
        assert response.status_code == 404
        assert response.headers["RateLimit-Limit"] == "3"
        assert 1 <= int(response.headers["RateLimit-Reset"]) <= 60
        remaining.append(response.headers["RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    refused = client.get("/api/nothing")
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Remaining"] == "0"


def test_login_and_register_have_their_own_stricter_limit(limited_app):
    client = client_at(limited_app, fresh_ip())
    body = {"email": "nobody@example.com", "password": "wrong password"}
    statuses = [finished(client.post("/api/auth/login", json=body)) for _ in range(3)]
    assert statuses == [401, 401, 429]
    # Per route: sign-up is counted apart from login, and the default limit is untouched.
    assert client.post("/api/auth/register", json={}).status_code == 422
    response = client.get("/api/nothing")
    assert response.headers["RateLimit-Remaining"] == "2"


def test_a_password_check_counts_against_the_stricter_limit(limited_app, auth_headers):
    client = client_at(limited_app, fresh_ip())
    wrong = {"current_password": "not the password", "password": "a new password"}
    statuses = [
        finished(client.patch("/api/users/me", json=wrong, headers=auth_headers)) for _ in range(3)
    ]
    assert statuses == [403, 403, 429]
    # Not JSON: user-service refuses it (415) before any hash, so it is not a password check.
    as_text = client.patch(
        "/api/users/me", data=json.dumps(wrong), headers=auth_headers, content_type="text/plain"
    )
    assert finished(as_text) == 415
    # A new name hashes nothing: the default limit.
    renamed = client.patch("/api/users/me", json={"name": "Renamed"}, headers=auth_headers)
    assert finished(renamed) == 200 and renamed.headers["RateLimit-Limit"] == "3"


def test_a_user_is_limited_wherever_it_comes_from(limited_app, auth_headers):
    addresses = [fresh_ip() for _ in range(4)]
    statuses = [
        finished(client_at(limited_app, address).get("/api/users/me", headers=auth_headers))
        for address in addresses
    ]
    assert statuses == [200, 200, 200, 429]


def forwarded_four_times(client) -> list[int]:
    """Send four requests, each forwarded for a different client; return their statuses."""
    headers = [{"X-Forwarded-For": fresh_ip()} for _ in range(4)]
    return [client.get("/api/nothing", headers=each).status_code for each in headers]


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(limited_app):
    untrusted = client_at(limited_app, fresh_ip())
    spoofed = forwarded_four_times(untrusted)
    assert spoofed == [404, 404, 404, 429]  # one key: the peer's own address
    proxy = client_at(limited_app, "172.18.0.5")
    clients = forwarded_four_times(proxy)
    assert clients == [404, 404, 404, 404]  # NGINX's word: four different clients


@pytest.fixture(scope="module")
def named_proxy_app(config, app_with):
    """A gateway that trusts one proxy by name, as production does: localhost (127.0.0.1)."""
    limits = dataclasses.replace(
        config.rate_limits,
        default=Limit(3, 60),
        trusted_proxies=TrustedProxies.parse("localhost", production=True),
    )
    return app_with(rate_limits=limits)


def test_only_a_proxy_named_in_trusted_proxies_can_forward_a_client(named_proxy_app):
    # Another container of the edge network (a Docker private address) is not NGINX.
    other = client_at(named_proxy_app, f"172.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}")
    spoofed = forwarded_four_times(other)
    assert spoofed == [404, 404, 404, 429]  # one key: the peer's own address
    proxy = client_at(named_proxy_app, "127.0.0.1")
    clients = forwarded_four_times(proxy)
    assert clients == [404, 404, 404, 404]  # the named proxy's word: four different clients


class FakeDns:
    """Stands in for flotilla.clients.addresses: names to addresses, and the lookups made."""

    def __init__(self, **names: str) -> None:
        self.names = names
        self.lookups = 0

    def __call__(self, host: str, timeout: float) -> frozenset[str] | None:
        self.lookups += 1
        return frozenset([self.names[host]]) if host in self.names else None


def test_a_named_proxy_is_followed_to_its_new_address(monkeypatch):
    dns, now = FakeDns(nginx="172.18.0.2"), [0.0]
    monkeypatch.setattr(ratelimit, "addresses", dns)
    proxies = ratelimit.ProxyAddresses(
        TrustedProxies.parse("nginx", production=True), clock=lambda: now[0]
    )
    assert proxies.trusts("172.18.0.2")
    # NGINX restarts elsewhere: its new address is believed once the last lookup is a
    # second old, and a forging peer meanwhile costs no lookup per request.
    dns.names["nginx"] = "172.18.0.9"
    now[0] = ratelimit.PROXY_RECHECK_SECONDS / 2
    assert [proxies.trusts("172.18.0.9") for _ in range(5)] == [False] * 5
    assert dns.lookups == 1
    now[0] = ratelimit.PROXY_RECHECK_SECONDS
    assert proxies.trusts("172.18.0.9")
    assert dns.lookups == 2
    # Its old address is forgotten by the next lookup, at the latest when the addresses
    # are PROXY_ADDRESSES_SECONDS old.
    assert not proxies.trusts("172.18.0.2")
    now[0] += ratelimit.PROXY_ADDRESSES_SECONDS
    dns.names["nginx"] = "172.18.0.10"
    assert not proxies.trusts("172.18.0.9")
    assert proxies.trusts("172.18.0.10")
    # A lookup that fails keeps the last addresses: NGINX's clients never become one.
    del dns.names["nginx"]
    now[0] += ratelimit.PROXY_ADDRESSES_SECONDS
    assert proxies.trusts("172.18.0.10")


def test_the_access_log_names_the_client_that_was_counted(limited_app, caplog):
    limited_app.config["ACCESS_LOG"] = True
    forwarded, spoofer = fresh_ip(), fresh_ip()
    proxy = client_at(limited_app, "172.18.0.5")
    with caplog.at_level("INFO", logger="flotilla.access"):
        statuses = [
            proxy.get("/api/nothing", headers={"X-Forwarded-For": forwarded}).status_code
            for _ in range(4)
        ]
        client_at(limited_app, spoofer).get("/api/nothing", headers={"X-Forwarded-For": "1.2.3.4"})
    assert statuses == [404, 404, 404, 429]  # one key: the forwarded address
    logged = [r.client for r in caplog.records if r.name == "flotilla.access"]
    assert logged == [forwarded] * 4 + [spoofer]


@pytest.fixture
def no_redis_app(config, app_with):
    """A gateway whose Redis is a port nothing listens on."""
    limits = dataclasses.replace(
        config.rate_limits, redis_url="redis://127.0.0.1:9/0", default=Limit(1, 60)
    )
    return app_with(rate_limits=limits)


def test_redis_down_fails_open(no_redis_app, auth_headers, caplog):
    client = client_at(no_redis_app, fresh_ip())
    for _ in range(3):
        response = client.get("/api/users/me", headers=auth_headers)
        assert finished(response) == 200
        assert "RateLimit-Limit" not in response.headers
    assert "rate limits not enforced: redis unavailable" in caplog.text


@pytest.fixture(params=["stopped", "hanging"])
def broken_redis(request) -> tuple[str, float]:
    """The URL of a Redis that refuses connections (stopped) or accepts them and never
    answers (paused), and the least time a call to it takes."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
        if request.param == "stopped":
            listener.close()
            yield url, 0.0
        else:
            yield url, REDIS_TIMEOUT


REDIS_TIMEOUT = 0.2


def timed(action) -> float:
    """Run action; return how long it took, in seconds."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def test_a_broken_redis_costs_one_call_then_nothing(config, app_with, broken_redis):
    url, least = broken_redis
    limits = dataclasses.replace(config.rate_limits, redis_url=url, redis_timeout=REDIS_TIMEOUT)
    limiter = app_with(rate_limits=limits).extensions["gateway.limiter"]

    def hit() -> None:
        assert limiter.hit(f"ip:{fresh_ip()}", Limit(5, 60)) is None  # fails open

    # The call that meets the failure: at most one socket timeout, no retries with backoff.
    assert least <= timed(hit) < 3 * REDIS_TIMEOUT
    assert limiter.circuit.breaker.state == "open"
    # Then Redis is not waited for, not even when it is probed again after the pause.
    assert statistics.median(timed(hit) for _ in range(20)) < 0.01
    time.sleep(PAUSE_SECONDS)
    assert timed(hit) < REDIS_TIMEOUT  # starts the probe, does not wait for it
    assert statistics.median(timed(hit) for _ in range(20)) < 0.01
    time.sleep(REDIS_TIMEOUT + 0.1)
    assert limiter.circuit.breaker.state == "open"  # the background probe failed


def test_limits_come_back_by_themselves_after_a_failure(config, app_with):
    app = app_with(rate_limits=dataclasses.replace(config.rate_limits, default=Limit(3, 60)))
    app.extensions["gateway.limiter"].circuit.breaker.failed()  # as after a failed call
    client = client_at(app, fresh_ip())
    assert "RateLimit-Limit" not in client.get("/api/nothing").headers
    time.sleep(PAUSE_SECONDS)
    deadline = time.monotonic() + 2
    while "RateLimit-Remaining" not in (response := client.get("/api/nothing")).headers:
        assert time.monotonic() < deadline, "the limits did not come back"
        time.sleep(0.05)
    assert response.headers["RateLimit-Remaining"] == "2"  # nothing was counted meanwhile
