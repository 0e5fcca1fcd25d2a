"""order-service settings, read once from the environment."""

from dataclasses import dataclass
from typing import Any

from flotilla.config import ConfigError, Env
from flotilla.service import ServiceConfig

MIN_IDEMPOTENCY_HOURS = 24


@dataclass(frozen=True)
class Config(ServiceConfig):
    """Everything order-service needs to start."""

    database = "orders"
    internal_api = True

    product_service_url: str
    connect_timeout: float
    read_timeout: float
    idempotency_hours: int

    @classmethod
    def own(cls, env: Env) -> dict[str, Any]:
        """Read order-service's own settings."""
        idempotency_hours = env.integer("IDEMPOTENCY_KEY_HOURS", MIN_IDEMPOTENCY_HOURS)
        if idempotency_hours < MIN_IDEMPOTENCY_HOURS:
            raise ConfigError(f"IDEMPOTENCY_KEY_HOURS must be at least {MIN_IDEMPOTENCY_HOURS}")
        return {
            "product_service_url": env.get("PRODUCT_SERVICE_URL", "http://product-service:8000"),
            "connect_timeout": env.number("PRODUCT_SERVICE_CONNECT_TIMEOUT", 2.0),
            "read_timeout": env.number("PRODUCT_SERVICE_READ_TIMEOUT", 5.0),
            "idempotency_hours": idempotency_hours,
        }
