"""A circuit breaker per upstream, per worker process: fail fast while a service is down."""

import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    """Closed → open after `failures` transport failures in a row → half-open after
    `open_seconds`, when one probe request decides whether it closes or opens again."""

    def __init__(
        self, failures: int, open_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures = failures
        self.open_seconds = open_seconds
        self.clock = clock
        self._failed = 0
        self._opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()

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

    def allow(self) -> bool:
        """Whether a request may be sent now; in half-open, only one probe at a time."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half-open" and not self._probing:
                self._probing = True
                return True
            return False

    def succeeded(self) -> None:
        """Record an answer from the upstream: the circuit closes."""
        with self._lock:
            self._failed = 0
            self._opened_at = None
            self._probing = False

    def failed(self) -> bool:
        """Record a transport failure; return True when it opened the circuit."""
        with self._lock:
            was_open = self._opened_at is not None
            self._failed += 1
            self._probing = False
            if was_open or self._failed >= self.failures:
                self._opened_at = self.clock()
                return not was_open
            return False
