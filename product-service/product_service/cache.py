"""Cache-aside for single products in Redis. Redis only speeds reads up: when it is down,
every call here degrades to a no-op (logged) and the database answers."""

import logging
import time

import redis
from redis.backoff import NoBackoff
from redis.connection import Connection
from redis.retry import Retry

from flotilla.clients import resolves

log = logging.getLogger(__name__)

# After a failure, reads skip Redis for a moment instead of paying its timeout each time.
READ_PAUSE_SECONDS = 5.0


class QuickResolveConnection(Connection):
    """A Redis connection whose name lookup is bounded by the connect timeout."""

    def _connect(self):
        if not resolves(self.host, self.port, self.socket_connect_timeout or 1.0):
            raise redis.ConnectionError(f"Cannot resolve {self.host}")
        return super()._connect()


class ProductCache:
    """Product documents (JSON text) by id, with a TTL."""

    def __init__(self, url: str, *, ttl_seconds: int, timeout_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=Retry(NoBackoff(), 0),
            connection_class=QuickResolveConnection,
        )
        self._reads_paused_until = 0.0
        # Invalidations that failed: retried before this worker next trusts the cache.
        self._pending: set[int] = set()

    @staticmethod
    def key(product_id: int) -> str:
        """Return the Redis key of a product."""
        return f"product:{product_id}"

    def get(self, product_id: int) -> str | None:
        """Return the cached document, or None on a miss or when Redis is unavailable."""
        if time.monotonic() < self._reads_paused_until or not self._flush_pending():
            return None
        try:
            value = self.client.get(self.key(product_id))
        except redis.RedisError as error:
            self._failed("get", error)
            return None
        return value.decode() if value is not None else None

    def put(self, product_id: int, document: str) -> None:
        """Cache a document (best effort)."""
        if time.monotonic() < self._reads_paused_until:
            return
        try:
            self.client.set(self.key(product_id), document, ex=self.ttl_seconds)
        except redis.RedisError as error:
            self._failed("set", error)

    def invalidate(self, *product_ids: int) -> None:
        """Drop cached documents after a write; always tried, even while reads are paused."""
        if not product_ids:
            return
        try:
            self.client.delete(*(self.key(product_id) for product_id in product_ids))
        except redis.RedisError as error:
            # Retried by this worker once Redis answers; the TTL bounds what others may serve.
            self._pending.update(product_ids)
            self._failed("delete", error)

    def _flush_pending(self) -> bool:
        """Retry failed invalidations; return whether none is left."""
        if not self._pending:
            return True
        pending = list(self._pending)
        try:
            self.client.delete(*(self.key(product_id) for product_id in pending))
        except redis.RedisError as error:
            self._failed("delete", error)
            return False
        self._pending.difference_update(pending)
        return True

    def ping(self) -> None:
        """Raise unless Redis answers."""
        self.client.ping()

    def _failed(self, operation: str, error: Exception) -> None:
        self._reads_paused_until = time.monotonic() + READ_PAUSE_SECONDS
        log.warning(
            "redis unavailable, serving from the database",
            extra={"operation": operation, "error": str(error)},
        )
