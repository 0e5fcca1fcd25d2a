"""The circuit breaker: fail fast while an upstream is down, probe, recover; retry GETs only."""

import pytest

from gateway.breaker import CircuitBreaker
from gateway.config import Breaker
from gateway.upstreams import BREAKERS


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_n_failures_in_a_row_then_probes_once_and_closes():
    clock = Clock()
    breaker = CircuitBreaker(3, 10, clock=clock)
    assert not breaker.failed() and not breaker.failed()
    breaker.succeeded()  # a success in between resets the count
    assert [breaker.failed() for _ in range(3)] == [False, False, True]
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 10
    assert breaker.state == "half-open"
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    breaker.succeeded()
    assert breaker.state == "closed" and breaker.allow()


def test_a_failed_probe_opens_the_circuit_again():
    clock = Clock()
    breaker = CircuitBreaker(1, 5, clock=clock)
    breaker.failed()
    clock.now += 5
    assert breaker.allow()
    breaker.failed()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 5
    assert breaker.allow()


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
    assert BREAKERS.get(unreachable_app)["order-service"].state == "open"


def test_a_post_is_sent_once_and_the_open_circuit_answers_at_once(unreachable_app, auth_headers):
    client = unreachable_app.test_client()
    breaker = BREAKERS.get(unreachable_app)["order-service"]
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
