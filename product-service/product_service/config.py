"""product-service settings, read once from the environment."""

from dataclasses import dataclass

from flask import current_app

from flotilla import faults
from flotilla.auth import TokenSettings
from flotilla.config import (
    ConfigError,
    Env,
    authenticated_redis_url,
    database_url,
    internal_api_token,
)

# How long a released reservation is kept before it is purged (docs/orders.md, "Tombstones"):
# a day by default, never less than an hour, which no reserve call can outlive.
TOMBSTONE_SECONDS = 86400
MIN_TOMBSTONE_SECONDS = 3600


@dataclass(frozen=True)
class Config:
    """Everything product-service needs to start."""

    log_level: str
    tokens: TokenSettings
    database_url: str
    internal_token: str
    redis_url: str
    cache_ttl_seconds: int
    redis_timeout_seconds: float
    fault_injection: bool
    tombstone_seconds: int

    @classmethod
    def from_env(cls, env: Env | None = None) -> "Config":
        """Read the settings; raise ConfigError when one cannot work."""
        env = env or Env()
        tombstone_seconds = env.integer("RESERVATION_TOMBSTONE_SECONDS", TOMBSTONE_SECONDS)
        if tombstone_seconds < MIN_TOMBSTONE_SECONDS:
            raise ConfigError(
                f"RESERVATION_TOMBSTONE_SECONDS must be at least {MIN_TOMBSTONE_SECONDS},"
                f" got {tombstone_seconds}"
            )
        return cls(
            log_level=env.get("LOG_LEVEL", "INFO"),
            tokens=TokenSettings.from_env(env),
            database_url=database_url(env, default_name="products"),
            internal_token=internal_api_token(env),
            redis_url=authenticated_redis_url(env, default="redis://redis:6379/1"),
            # The TTL bounds how long a cache entry can outlive a missed invalidation.
            cache_ttl_seconds=env.integer("PRODUCT_CACHE_TTL_SECONDS", 60),
            redis_timeout_seconds=env.number("REDIS_TIMEOUT_SECONDS", 0.25),
            fault_injection=faults.enabled(env),
            tombstone_seconds=tombstone_seconds,
        )


def settings() -> Config:
    """Return the current app's settings."""
    return current_app.config["SETTINGS"]
