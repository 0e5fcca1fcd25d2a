"""user-service settings, read once from the environment."""

from dataclasses import dataclass

from flotilla.auth import TokenSettings
from flotilla.config import ConfigError, Env, database_url


@dataclass(frozen=True)
class Config:
    """Everything user-service needs to start."""

    database_url: str
    tokens: TokenSettings
    access_token_seconds: int
    refresh_token_seconds: int
    private_key_pem: str | None
    admin_email: str
    admin_password: str
    log_level: str

    @classmethod
    def from_env(cls, env: Env | None = None) -> "Config":
        """Read the settings; raise ConfigError when one cannot work."""
        env = env or Env()
        key_path = env.get("JWT_PRIVATE_KEY_FILE", "")
        if env.production and not key_path:
            # Production signs with a key it is given, never with one it made up.
            raise ConfigError("JWT_PRIVATE_KEY_FILE is required in production (RSA key, PEM)")
        return cls(
            database_url=database_url(env, default_name="users"),
            tokens=TokenSettings.from_env(env),
            access_token_seconds=env.integer("ACCESS_TOKEN_SECONDS", 900),
            refresh_token_seconds=env.integer("REFRESH_TOKEN_SECONDS", 14 * 24 * 3600),
            private_key_pem=read_key(key_path) if key_path else None,
            admin_email=env.get("ADMIN_EMAIL", "admin@flotilla.local").strip().lower(),
            admin_password=env.secret("ADMIN_PASSWORD", "admin-dev-password"),
            log_level=env.get("LOG_LEVEL", "INFO"),
        )


def read_key(path: str) -> str:
    """Return the PEM text of the configured signing key."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        raise ConfigError(f"JWT_PRIVATE_KEY_FILE={path} cannot be read: {error}") from None
