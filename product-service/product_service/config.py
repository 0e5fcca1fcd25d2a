"""product-service settings, read once from the environment."""

from dataclasses import dataclass
from typing import Any

from flotilla import faults
from flotilla.config import Env, authenticated_redis_url
from flotilla.service import ServiceConfig


@dataclass(frozen=True)
class Config(ServiceConfig):
    """Everything product-service needs to start."""

    database = "products"
    internal_api = True

    redis_url: str
    cache_ttl_seconds: int
    redis_timeout_seconds: float
    fault_injection: bool

    @classmethod
    def own(cls, env: Env) -> dict[str, Any]:
        """Read product-service's own settings."""
        return {
            "redis_url": authenticated_redis_url(env, default="redis://redis:6379/1"),
            # The TTL bounds how long a cache entry can outlive a missed invalidation.
            "cache_ttl_seconds": env.integer("PRODUCT_CACHE_TTL_SECONDS", 60),
            "redis_timeout_seconds": env.number("REDIS_TIMEOUT_SECONDS", 0.25),
            "fault_injection": faults.enabled(env),
        }
