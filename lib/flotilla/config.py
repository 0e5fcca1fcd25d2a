"""Configuration read once from the environment; fail fast when something is wrong."""

import os
from collections.abc import Mapping
from urllib.parse import quote, urlsplit, urlunsplit

# Values that only make sense on a developer's machine; production refuses them.
PLACEHOLDERS = frozenset({"", "change-me", "changeme", "password", "secret", "dev", "admin"})


class ConfigError(RuntimeError):
    """Raised at start-up when the configuration cannot work."""


class Env:
    """Reads settings from a mapping (the process environment by default)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self.production = self.get("FLOTILLA_ENV", "development") == "production"

    def get(self, name: str, default: str | None = None) -> str:
        """Return a setting, its default, or fail when it has neither."""
        value = self.environ.get(name)
        if value is None or value == "":
            if default is None:
                raise ConfigError(f"{name} is required but not set")
            return default
        return value

    def integer(self, name: str, default: int) -> int:
        """Return an integer setting."""
        raw = self.get(name, str(default))
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from None

    def number(self, name: str, default: float) -> float:
        """Return a number setting."""
        raw = self.get(name, str(default))
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None

    def flag(self, name: str, default: bool) -> bool:
        """Return a yes/no setting."""
        raw = self.get(name, "true" if default else "false").lower()
        if raw not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            raise ConfigError(f"{name} must be true or false, got {raw!r}")
        return raw in {"1", "true", "yes", "on"}

    def secret(self, name: str, dev_default: str | None = None) -> str:
        """Return a secret from NAME or the file named by NAME_FILE (Docker secrets)."""
        path = self.environ.get(f"{name}_FILE")
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    value = handle.read().strip()
            except OSError as error:
                raise ConfigError(f"{name}_FILE={path} cannot be read: {error}") from None
        else:
            value = self.environ.get(name, "")
        if self.production and (value.lower() in PLACEHOLDERS or value == dev_default):
            raise ConfigError(f"{name} (or {name}_FILE) must be set to a real secret in production")
        if not value:
            if dev_default is None:
                raise ConfigError(f"{name} (or {name}_FILE) is required but not set")
            return dev_default
        return value


def database_url(env: Env, *, default_name: str) -> str:
    """Build the libpq URL of a service's own database from DB_* settings."""
    user = env.get("DB_USER", default_name)
    password = env.secret("DB_PASSWORD", f"{default_name}-dev-password")
    host = env.get("DB_HOST", "postgres")
    port = env.integer("DB_PORT", 5432)
    name = env.get("DB_NAME", default_name)
    return f"postgresql://{quote(user)}:{quote(password, safe='')}@{host}:{port}/{quote(name)}"


DEV_INTERNAL_TOKEN = "internal-dev-token"


def internal_api_token(env: Env) -> str:
    """Return the shared secret services present to each other's /internal endpoints."""
    return env.secret("INTERNAL_API_TOKEN", DEV_INTERNAL_TOKEN)


def authenticated_redis_url(env: Env, *, default: str) -> str:
    """Return REDIS_URL with REDIS_USER (none: the default) and REDIS_PASSWORD(_FILE) in it."""
    url = urlsplit(env.get("REDIS_URL", default))
    user = quote(env.get("REDIS_USER", ""), safe="")
    password = env.secret("REDIS_PASSWORD", "redis-dev-password")
    host = f"{url.hostname}:{url.port}" if url.port else url.hostname
    return urlunsplit(url._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))
