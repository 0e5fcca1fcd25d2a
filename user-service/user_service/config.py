"""user-service settings, read once from the environment."""

from dataclasses import dataclass
from typing import Any

from flotilla.config import ConfigError, Env
from flotilla.service import ServiceConfig


@dataclass(frozen=True)
class Config(ServiceConfig):
    """Everything user-service needs to start."""

    database = "users"

    access_token_seconds: int
    refresh_token_seconds: int
    private_key_pem: str | None
    admin_email: str
    admin_password: str

    @classmethod
    def own(cls, env: Env) -> dict[str, Any]:
        """Read user-service's own settings."""
        key_path = env.get("JWT_PRIVATE_KEY_FILE", "")
        if env.production and not key_path:
            # Production signs with a key it is given, never with one it made up.
            raise ConfigError("JWT_PRIVATE_KEY_FILE is required in production (RSA key, PEM)")
        return {
            "access_token_seconds": env.integer("ACCESS_TOKEN_SECONDS", 900),
            "refresh_token_seconds": env.integer("REFRESH_TOKEN_SECONDS", 14 * 24 * 3600),
            "private_key_pem": read_key(key_path) if key_path else None,
            "admin_email": env.get("ADMIN_EMAIL", "admin@flotilla.local").strip().lower(),
            "admin_password": env.secret("ADMIN_PASSWORD", "admin-dev-password"),
        }


def read_key(path: str) -> str:
    """Return the PEM text of the configured signing key."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        raise ConfigError(f"JWT_PRIVATE_KEY_FILE={path} cannot be read: {error}") from None
