"""product-service settings, read once from the environment."""

from dataclasses import dataclass

from flotilla.auth import TokenSettings
from flotilla.config import Env, database_url


@dataclass(frozen=True)
class Config:
    """Everything product-service needs to start."""

    database_url: str
    redis_url: str
    tokens: TokenSettings
    log_level: str

    @classmethod
    def from_env(cls, env: Env | None = None) -> "Config":
        """Read the settings; raise ConfigError when one cannot work."""
        env = env or Env()
        return cls(
            database_url=database_url(env, default_name="products"),
            redis_url=env.get("REDIS_URL", "redis://redis:6379/1"),
            tokens=TokenSettings.from_env(env),
            log_level=env.get("LOG_LEVEL", "INFO"),
        )
