"""product-service settings, read once from the environment."""

from dataclasses import dataclass

from flotilla.auth import TokenSettings
from flotilla.config import Env, authenticated_redis_url, database_url, internal_api_token


@dataclass(frozen=True)
class Config:
    """Everything product-service needs to start."""

    database_url: str
    redis_url: str
    tokens: TokenSettings
    log_level: str
    internal_token: str
    cache_ttl_seconds: int
    redis_timeout_seconds: float
    reservation_ttl_seconds: int

    @classmethod
    def from_env(cls, env: Env | None = None) -> "Config":
        """Read the settings; raise ConfigError when one cannot work."""
        env = env or Env()
        return cls(
            database_url=database_url(env, default_name="products"),
            redis_url=authenticated_redis_url(env, default="redis://redis:6379/1"),
            tokens=TokenSettings.from_env(env),
            log_level=env.get("LOG_LEVEL", "INFO"),
            internal_token=internal_api_token(env),
            # The TTL bounds how long a cache entry can outlive a missed invalidation.
            cache_ttl_seconds=env.integer("PRODUCT_CACHE_TTL_SECONDS", 60),
            redis_timeout_seconds=env.number("REDIS_TIMEOUT_SECONDS", 0.25),
            reservation_ttl_seconds=env.integer("RESERVATION_TTL_SECONDS", 600),
        )
