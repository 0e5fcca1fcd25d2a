"""A value worth reusing for a while: computed once per expiry, however many ask at once."""

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Memo(Generic[T]):
    """Keeps what `compute` returns for `seconds(value)` seconds, per process.

    Callers that ask while it is computed wait for that result instead of computing it
    again, so a burst of requests costs one computation.
    """

    def __init__(
        self,
        compute: Callable[[], T],
        seconds: Callable[[T], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.compute = compute
        self.seconds = seconds
        self.clock = clock
        self._value: T | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def get(self) -> T:
        """Return the kept value, computing it anew once it has expired."""
        with self._lock:
            if self._value is None or self.clock() >= self._expires:
                self._value = self.compute()
                self._expires = self.clock() + self.seconds(self._value)
            return self._value
