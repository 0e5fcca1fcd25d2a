"""The circuit breaker: fail fast while a dependency is down, probe, recover."""

import pytest

from flotilla.breaker import CircuitBreaker, CircuitOpen


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
