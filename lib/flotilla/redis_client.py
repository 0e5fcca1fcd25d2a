"""Redis for what only helps (caches, rate limits): calls that fail fast and then cost nothing
until Redis is back, so a dead or hanging Redis never slows a request down for long."""

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.connection import Connection
from redis.retry import Retry

from flotilla.breaker import CircuitBreaker, CircuitOpen
from flotilla.clients import resolves

log = logging.getLogger(__name__)
T = TypeVar("T")

# After a failure, how long Redis is left alone before one call tries it again.
PAUSE_SECONDS = 1.0


# redis-py has no setting that bounds the name lookup.
class QuickResolveConnection(Connection):
    """A Redis connection whose name lookup is bounded by the connect timeout."""

    def connect(self) -> None:
        """Connect, failing within the connect timeout when the name does not resolve."""
        timeout = self.socket_connect_timeout or 1.0
        if not self.is_connected and not resolves(self.host, self.port, timeout):
            raise redis.ConnectionError(f"Cannot resolve {self.host}")
        super().connect()


def fail_fast_redis(url: str, *, timeout: float) -> redis.Redis:
    """Return a client with short timeouts and no retries: a failure is reported at once."""
    # redis-py's default retries with backoff would make every request wait seconds.
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        connection_class=QuickResolveConnection,
    )


class RedisCircuit:
    """Runs calls on Redis through a breaker that a failure opens and a background ping closes."""

    def __init__(
        self, client: redis.Redis, *, unavailable: str, pause_seconds: float = PAUSE_SECONDS
    ) -> None:
        self.client = client
        self.unavailable = unavailable  # what the log says a failure means
        self.breaker = CircuitBreaker(1, pause_seconds, name="redis")
        self._probing = threading.Lock()

    def run(self, operation: str, action: Callable[[], T]) -> T | None:
        """Return what action returns; None when Redis is skipped or fails (logged)."""
        if self.breaker.state != "closed":
            self._probe_in_background()
            return None
        try:
            with self.breaker.call(redis.RedisError):
                return action()
        except CircuitOpen:  # opened by another thread just now
            return None
        except redis.RedisError as error:
            log.warning(self.unavailable, extra={"operation": operation, "error": str(error)})
            return None

    def _probe_in_background(self) -> None:
        if self.breaker.state == "half-open" and self._probing.acquire(blocking=False):
            threading.Thread(target=self._probe, name="redis-probe", daemon=True).start()

    def _probe(self) -> None:
        try:
            with self.breaker.call(redis.RedisError):
                self.client.ping()
            log.info("redis available again")
        except (CircuitOpen, redis.RedisError):
            pass  # still down: the breaker stays open for another pause
        finally:
            self._probing.release()
