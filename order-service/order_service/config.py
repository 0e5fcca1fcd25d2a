"""order-service settings, read once from the environment."""

from dataclasses import dataclass

from flotilla.auth import TokenSettings
from flotilla.config import ConfigError, Env, database_url, internal_api_token

MIN_IDEMPOTENCY_HOURS = 24


@dataclass(frozen=True)
class Config:
    """Everything order-service needs to start."""

    database_url: str
    product_service_url: str
    tokens: TokenSettings
    log_level: str
    internal_token: str
    connect_timeout: float
    read_timeout: float
    idempotency_hours: int

    @classmethod
    def from_env(cls, env: Env | None = None) -> "Config":
        """Read the settings; raise ConfigError when one cannot work."""
        env = env or Env()
        idempotency_hours = env.integer("IDEMPOTENCY_KEY_HOURS", MIN_IDEMPOTENCY_HOURS)
        if idempotency_hours < MIN_IDEMPOTENCY_HOURS:
            raise ConfigError(f"IDEMPOTENCY_KEY_HOURS must be at least {MIN_IDEMPOTENCY_HOURS}")
        return cls(
            database_url=database_url(env, default_name="orders"),
            product_service_url=env.get("PRODUCT_SERVICE_URL", "http://product-service:8000"),
            tokens=TokenSettings.from_env(env),
            log_level=env.get("LOG_LEVEL", "INFO"),
            internal_token=internal_api_token(env),
            connect_timeout=env.number("PRODUCT_SERVICE_CONNECT_TIMEOUT", 2.0),
            read_timeout=env.number("PRODUCT_SERVICE_READ_TIMEOUT", 5.0),
            idempotency_hours=idempotency_hours,
        )
