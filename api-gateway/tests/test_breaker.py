"""The gateway's breakers: one per upstream, released by a probe that fails on a bug; GETs
retried once, POSTs never."""

import time

import pytest

from gateway.config import Breaker


def test_a_gateway_probe_that_hits_a_bug_does_not_leave_the_circuit_stuck(
    stub_upstream, gateway_to, monkeypatch
):
    stub = stub_upstream()
    app = gateway_to(stub.url, breaker=Breaker(1, 0.2))
    client = app.test_client()
    breaker = app.extensions["gateway.breakers"]["user-service"]
    breaker.failed()
    time.sleep(0.2)  # half-open: the next request is the probe
    pool = app.extensions["gateway.pools"]["user-service"]
    with monkeypatch.context() as patch:
        patch.setattr(pool, "urlopen", lambda *args, **kwargs: 1 / 0)
        response = client.post("/api/auth/login", json={})
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    # Without the release, every later request on this worker were "circuit open".
    assert client.post("/api/auth/login", json={}).status_code == 200
    assert breaker.state == "closed"


@pytest.fixture
def unreachable_app(config, app_with):
    """A gateway whose order-service is a port nothing listens on (fast connection refused)."""
    upstreams = {**config.upstreams, "order-service": "http://127.0.0.1:9"}
    return app_with(upstreams=upstreams, breaker=Breaker(2, 60))


def test_a_get_is_retried_once_on_a_connect_error(unreachable_app, auth_headers):
    client = unreachable_app.test_client()
    response = client.get("/api/orders", headers=auth_headers)
    assert response.status_code == 503
    assert response.json["error"]["code"] == "service_unavailable"
    # Two attempts, two failures: with a threshold of 2, one GET opened the circuit.
    assert unreachable_app.extensions["gateway.breakers"]["order-service"].state == "open"


def test_a_post_is_sent_once_and_the_open_circuit_answers_at_once(unreachable_app, auth_headers):
    client = unreachable_app.test_client()
    breaker = unreachable_app.extensions["gateway.breakers"]["order-service"]
    first = client.post("/api/orders", json={"items": []}, headers=auth_headers)
    assert first.status_code == 503
    assert breaker.state == "closed"  # one attempt only: a POST is never repeated
    client.post("/api/orders", json={"items": []}, headers=auth_headers)
    assert breaker.state == "open"
    fast = client.post("/api/orders", json={"items": []}, headers=auth_headers)
    assert fast.status_code == 503
    assert "circuit open" in fast.json["error"]["message"]
    # The other upstreams have breakers of their own.
    assert client.get("/api/users/me", headers=auth_headers).status_code == 200
