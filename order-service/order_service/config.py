"""order-service settings, read once from the environment."""

import math
from dataclasses import dataclass

from flask import current_app

from flotilla import faults
from flotilla.auth import TokenSettings
from flotilla.config import ConfigError, Env, database_url, internal_api_token

MIN_IDEMPOTENCY_HOURS = 24
# How often the worker settles pending orders and returns the stock of cancelled ones.
RECOVERY_EVERY_SECONDS = 5


def settle_after(connect_timeout: float, read_timeout: float) -> int:
    """Return the age after which the worker settles an order its request left unsettled.

    By then the request has had its answer from product-service or given up waiting; a
    reserve of it still in flight then finds its reservation released and takes nothing.
    """
    return math.ceil(connect_timeout + read_timeout) + 1


@dataclass(frozen=True)
class Config:
    """Everything order-service needs to start."""

    log_level: str
    tokens: TokenSettings
    database_url: str
    internal_token: str
    product_service_url: str
    connect_timeout: float
    read_timeout: float
    idempotency_hours: int
    recovery_seconds: int
    fault_injection: bool

    @property
    def settle_after_seconds(self) -> int:
        """Return the age after which the worker settles an unsettled order (settle_after)."""
        return settle_after(self.connect_timeout, self.read_timeout)

    @classmethod
    def from_env(cls, env: Env | None = None) -> "Config":
        """Read the settings; raise ConfigError when one cannot work."""
        env = env or Env()
        idempotency_hours = env.integer("IDEMPOTENCY_KEY_HOURS", MIN_IDEMPOTENCY_HOURS)
        if idempotency_hours < MIN_IDEMPOTENCY_HOURS:
            raise ConfigError(f"IDEMPOTENCY_KEY_HOURS must be at least {MIN_IDEMPOTENCY_HOURS}")
        connect_timeout = env.number("PRODUCT_SERVICE_CONNECT_TIMEOUT", 2.0)
        read_timeout = env.number("PRODUCT_SERVICE_READ_TIMEOUT", 5.0)
        recovery_seconds = env.integer("ORDER_RECOVERY_SECONDS", 60)
        # The promise of API.md: settling starts after the product-service timeouts and runs
        # every RECOVERY_EVERY_SECONDS; a bound shorter than twice that cannot be kept.
        needed = settle_after(connect_timeout, read_timeout) + 2 * RECOVERY_EVERY_SECONDS
        if recovery_seconds < needed:
            raise ConfigError(
                f"ORDER_RECOVERY_SECONDS must be at least {needed} with these "
                "PRODUCT_SERVICE_*_TIMEOUT settings"
            )
        return cls(
            log_level=env.get("LOG_LEVEL", "INFO"),
            tokens=TokenSettings.from_env(env),
            database_url=database_url(env, default_name="orders"),
            internal_token=internal_api_token(env),
            product_service_url=env.get("PRODUCT_SERVICE_URL", "http://product-service:8000"),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            idempotency_hours=idempotency_hours,
            recovery_seconds=recovery_seconds,
            fault_injection=faults.enabled(env),
        )


def settings() -> Config:
    """Return the current app's settings."""
    return current_app.config["SETTINGS"]
