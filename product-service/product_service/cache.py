"""Cache-aside for single products in Redis. Redis only speeds reads up: when it is down,
every call here degrades to a no-op (logged) and the database answers."""

import logging
import socket
import time
from collections.abc import Iterable

import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.connection import Connection
from redis.retry import Retry

from flotilla.app import Slot
from flotilla.clients import resolves
from product_service.config import Config

log = logging.getLogger(__name__)

# After a failure, reads skip Redis for a moment instead of paying its timeout each time.
READ_PAUSE_SECONDS = 5.0
# SET the document only while the invalidation count is what the reader saw before its query.
PUT_IF_UNCHANGED = """
if (redis.call('GET', KEYS[2]) or '0') == ARGV[2] then
    return redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
end
return false
"""


class QuickResolveConnection(Connection):
    """A Redis connection whose name lookup is bounded by the connect timeout."""

    def _connect(self) -> socket.socket:
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
        self._put_if_unchanged = self.client.register_script(PUT_IF_UNCHANGED)
        self._reads_paused_until = 0.0
        # Invalidations that failed: retried before this worker next trusts the cache.
        self._pending: set[int] = set()

    @staticmethod
    def key(product_id: int) -> str:
        """Return the Redis key of a product."""
        return f"product:{product_id}"

    @staticmethod
    def version_key(product_id: int) -> str:
        """Return the key counting a product's invalidations."""
        return f"product:{product_id}:version"

    def get(self, product_id: int) -> tuple[str | None, str | None]:
        """Return (cached document or None, version token for put or None).

        The token is the product's invalidation count before the database is read; put()
        stores only if no invalidation happened since, so a slow read that saw the old row
        cannot cache it over a newer write.
        """
        if time.monotonic() < self._reads_paused_until or not self._flush_pending():
            return None, None
        try:
            value, version = self.client.mget(self.key(product_id), self.version_key(product_id))
        except redis.RedisError as error:
            self._failed("get", error)
            return None, None
        if value is not None:
            return value.decode(), None
        return None, (version or b"0").decode()

    def put(self, product_id: int, document: str, *, version: str | None) -> None:
        """Cache a document read after get() returned version (best effort)."""
        if version is None or time.monotonic() < self._reads_paused_until:
            return
        try:
            self._put_if_unchanged(
                keys=[self.key(product_id), self.version_key(product_id)],
                args=[document, version, self.ttl_seconds],
            )
        except redis.RedisError as error:
            self._failed("set", error)

    def invalidate(self, *product_ids: int) -> None:
        """Drop cached documents after a write; always tried, even while reads are paused."""
        if not product_ids:
            return
        try:
            self._drop(product_ids)
        except redis.RedisError as error:
            # Retried by this worker once Redis answers; the TTL bounds what others may serve.
            self._pending.update(product_ids)
            self._failed("delete", error)

    def _drop(self, product_ids: Iterable[int]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for product_id in product_ids:
            pipe.incr(self.version_key(product_id))
            # Outlives any entry cached under the old count (a lost counter only skips a put).
            pipe.expire(self.version_key(product_id), self.ttl_seconds * 10)
            pipe.delete(self.key(product_id))
        pipe.execute()

    def _flush_pending(self) -> bool:
        """Retry failed invalidations; return whether none is left."""
        if not self._pending:
            return True
        pending = list(self._pending)
        try:
            self._drop(pending)
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


CACHE: Slot[ProductCache] = Slot("product_cache")


def register_cache(app: Flask, config: Config) -> None:
    """Give the app its product cache (CACHE.get())."""
    CACHE.set(
        app,
        ProductCache(
            config.redis_url,
            ttl_seconds=config.cache_ttl_seconds,
            timeout_seconds=config.redis_timeout_seconds,
        ),
    )
