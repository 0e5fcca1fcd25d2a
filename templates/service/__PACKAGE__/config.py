"""__SERVICE__ settings, read once from the environment."""

from dataclasses import dataclass

from flask import current_app

from flotilla.auth import TokenSettings
from flotilla.config import Env, database_url


@dataclass(frozen=True)
class Config:
    """Everything __SERVICE__ needs to start."""

    log_level: str
    tokens: TokenSettings
    database_url: str

    @classmethod
    def from_env(cls, env: Env | None = None) -> "Config":
        """Read the settings; raise ConfigError when one cannot work."""
        env = env or Env()
        return cls(
            log_level=env.get("LOG_LEVEL", "INFO"),
            tokens=TokenSettings.from_env(env),
            database_url=database_url(env, default_name="__DATABASE__"),
        )


def settings() -> Config:
    """Return the current app's settings."""
    return current_app.config["SETTINGS"]
