"""The circuit breaker: fail fast while an upstream is down, probe, recover; retry GETs only."""

import time

import pytest

from flotilla.breaker import CircuitBreaker, CircuitOpen
from gateway.config import Breaker


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CallFailedError(Exception):
    """What the breakers below count as a failed call."""


def attempt(breaker: CircuitBreaker, outcome: type[BaseException] | None = None) -> str:
    """Make one call through breaker that raises outcome (None: it returns); say what happened."""
    try:
        with breaker.call(CallFailedError):
            if outcome is not None:
                raise outcome()
    except CircuitOpen:
        return "refused"
    except BaseException:  # whatever the call raised
        return "raised"
    return "made"


def test_opens_after_n_failures_in_a_row_then_probes_once_and_closes():
    clock = Clock()
    breaker = CircuitBreaker(3, 10, clock=clock)
    assert [attempt(breaker, CallFailedError) for _ in range(2)] == ["raised", "raised"]
    attempt(breaker)  # a success in between resets the count
    assert [breaker.failed() for _ in range(3)] == [False, False, True]
    assert breaker.state == "open" and attempt(breaker) == "refused"
    clock.now += 10
    assert breaker.state == "half-open"
    with breaker.call(CallFailedError):  # the probe
        assert attempt(breaker) == "refused"  # one probe at a time
    assert breaker.state == "closed" and attempt(breaker) == "made"


def test_a_failed_probe_opens_the_circuit_again():
    clock = Clock()
    breaker = CircuitBreaker(1, 5, clock=clock)
    assert attempt(breaker, CallFailedError) == "raised"
    clock.now += 5
    assert attempt(breaker, CallFailedError) == "raised"
    assert breaker.state == "open" and attempt(breaker) == "refused"
    clock.now += 5
    assert attempt(breaker) == "made" and breaker.state == "closed"


@pytest.mark.parametrize("unexpected", [RuntimeError, KeyboardInterrupt, GeneratorExit])
def test_a_probe_that_raises_anything_else_is_released(unexpected):
    clock = Clock()
    breaker = CircuitBreaker(1, 5, clock=clock)
    breaker.failed()
    clock.now += 5
    assert attempt(breaker, unexpected) == "raised"
    # Neither a success nor a failure: still half-open, and the next call may probe.
    assert breaker.state == "half-open"
    assert attempt(breaker) == "made" and breaker.state == "closed"


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
