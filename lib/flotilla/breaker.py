"""A circuit breaker, per process: fail fast while a dependency is down, and find out by
itself when it is back."""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flotilla.metrics import circuit_open

log = logging.getLogger(__name__)
Errors = type[BaseException] | tuple[type[BaseException], ...]


class CircuitOpen(Exception):  # noqa: N818 (a state, not an error of the caller)
    """The circuit is open (or its one probe is under way): the call was not made."""


class CircuitBreaker:
    """Closed → open after `failures` failures in a row → half-open after `open_seconds`,
    when one probe call decides whether it closes or opens again."""

    def __init__(
        self,
        failures: int,
        open_seconds: float,
        *,
        name: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.open_seconds = open_seconds
        self.name = name
        self.clock = clock
        self._failed = 0
        self._opened_at: float | None = None
        self._probe: object | None = None  # the token of the probe under way
        self._lock = threading.Lock()
        circuit_open().labels(name).set(0)

    @property
    def state(self) -> str:
        """ "closed", "open" or "half-open"."""
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self.clock() - self._opened_at >= self.open_seconds:
            return "half-open"
        return "open"

    @contextmanager
    def call(self, failures: Errors) -> Iterator[None]:
        """Guard one call: raise CircuitOpen instead of making it while the circuit is open."""
        # Any exception but `failures` decides nothing, yet releases a probe: no bug can
        # leave the circuit half-open, refusing every call, forever.
        probe = self._admit()
        try:
            yield
        except failures:
            self.failed()
            raise
        except BaseException:
            self._release(probe)
            raise
        self.succeeded()

    def _admit(self) -> object | None:
        """Raise CircuitOpen, or return the probe's token (None while closed)."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return None
            if state == "half-open" and self._probe is None:
                self._probe = object()
                return self._probe
        raise CircuitOpen(f"{self.name} circuit open")

    def _release(self, probe: object | None) -> None:
        with self._lock:
            if probe is not None and self._probe is probe:
                self._probe = None

    def succeeded(self) -> None:
        """Record an answer: the circuit closes."""
        with self._lock:
            was_open = self._opened_at is not None
            self._failed = 0
            self._opened_at = None
            self._probe = None
        if was_open:
            circuit_open().labels(self.name).set(0)

    def failed(self) -> bool:
        """Record a failure; return True when it opened the circuit."""
        with self._lock:
            was_open = self._opened_at is not None
            self._failed += 1
            self._probe = None
            if not (was_open or self._failed >= self.failures):
                return False
            self._opened_at = self.clock()
        if not was_open:
            log.warning("circuit opened", extra={"circuit": self.name})
            circuit_open().labels(self.name).set(1)
        return not was_open
