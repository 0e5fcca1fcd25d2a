"""storefront settings, read once from the environment."""

from dataclasses import dataclass

from flotilla.config import ConfigError, Env, authenticated_redis_url

DEV_SESSION_SECRET = "storefront-dev-session-secret"


@dataclass(frozen=True)
class Config:
    """Everything the storefront needs: the public API's address and where sessions live."""

    log_level: str
    api_url: str
    api_timeout: float
    # Sessions (tokens, cart) stay server side in Redis; the cookie holds a signed id only.
    sessions_redis_url: str
    session_secret: str
    session_seconds: int
    secure_cookies: bool
    page_size: int

    @classmethod
    def from_env(cls, env: Env | None = None) -> "Config":
        """Read the settings; raise ConfigError when one cannot work."""
        env = env or Env()
        secret = env.secret("SESSION_SECRET", DEV_SESSION_SECRET)
        if env.production and len(secret) < 32:
            raise ConfigError("SESSION_SECRET must be at least 32 characters in production")
        return cls(
            log_level=env.get("LOG_LEVEL", "INFO"),
            # The public API through the gateway, never a service directly.
            api_url=env.get("API_URL", "http://api-gateway:8000"),
            api_timeout=env.number("API_TIMEOUT", 10.0),
            # db 0: the gateway's rate limits, db 1: product-service's cache.
            sessions_redis_url=authenticated_redis_url(env, default="redis://redis:6379/2"),
            session_secret=secret,
            session_seconds=env.integer("SESSION_SECONDS", 86400),
            # Secure cookies need HTTPS: on by default in production only.
            secure_cookies=env.flag("SECURE_COOKIES", env.production),
            page_size=env.integer("PAGE_SIZE", 12),
        )
