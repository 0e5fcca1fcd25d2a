"""Cache-aside for single products in Redis. Redis only speeds reads up: when it is down,
every call here degrades to a no-op (logged) and the database answers."""

from collections.abc import Iterable

from flask import Flask, current_app

from flotilla.redis_client import RedisCircuit, fail_fast_redis
from product_service.config import Config

# SET the document only while the invalidation count is what the reader saw before its query.
PUT_IF_UNCHANGED = """
if (redis.call('GET', KEYS[2]) or '0') == ARGV[2] then
    return redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
end
return false
"""


class ProductCache:
    """Product documents (JSON text) by id, with a TTL."""

    def __init__(self, url: str, *, ttl_seconds: int, timeout_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self.client = fail_fast_redis(url, timeout=timeout_seconds)
        self._put_if_unchanged = self.client.register_script(PUT_IF_UNCHANGED)
        # While Redis fails it is skipped (and probed in the background), not waited for.
        self.circuit = RedisCircuit(
            self.client, unavailable="redis unavailable, serving from the database"
        )
        # Invalidations that failed or were skipped: done before this worker next trusts
        # the cache; the TTL bounds what other workers may serve meanwhile.
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
        found = self.circuit.run("get", lambda: self._read(product_id))
        if found is None:
            return None, None
        value, version = found
        if value is not None:
            return value.decode(), None
        return None, (version or b"0").decode()

    def _read(self, product_id: int) -> list:
        self._flush_pending()
        return self.client.mget(self.key(product_id), self.version_key(product_id))

    def put(self, product_id: int, document: str, *, version: str | None) -> None:
        """Cache a document read after get() returned version (best effort)."""
        if version is None:
            return
        self.circuit.run(
            "set",
            lambda: self._put_if_unchanged(
                keys=[self.key(product_id), self.version_key(product_id)],
                args=[document, version, self.ttl_seconds],
            ),
        )

    def invalidate(self, *product_ids: int) -> None:
        """Drop cached documents after a write; kept for later while Redis is unavailable."""
        if product_ids and self.circuit.run("delete", lambda: self._drop(product_ids)) is None:
            self._pending.update(product_ids)

    def _flush_pending(self) -> None:
        """Do the invalidations still pending (raises when Redis fails)."""
        if self._pending:
            pending = list(self._pending)
            self._drop(pending)
            self._pending.difference_update(pending)

    def _drop(self, product_ids: Iterable[int]) -> bool:
        pipe = self.client.pipeline(transaction=False)
        for product_id in product_ids:
            pipe.incr(self.version_key(product_id))
            # Outlives any entry cached under the old count (a lost counter only skips a put).
            pipe.expire(self.version_key(product_id), self.ttl_seconds * 10)
            pipe.delete(self.key(product_id))
        pipe.execute()
        return True

    def ping(self) -> None:
        """Raise unless Redis answers."""
        self.client.ping()


def init_app(app: Flask, config: Config) -> None:
    """Give the app its product cache (product_cache())."""
    app.extensions["product_service.cache"] = ProductCache(
        config.redis_url,
        ttl_seconds=config.cache_ttl_seconds,
        timeout_seconds=config.redis_timeout_seconds,
    )


def product_cache() -> ProductCache:
    """Return the current app's product cache."""
    return current_app.extensions["product_service.cache"]
