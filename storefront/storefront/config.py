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
    # New stored sessions (a log-in or a first cart) one client address may start an hour.
    sessions_per_client: int
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
            # A Redis of its own that never evicts (docker-compose.yml, session-store): the
            # cache and the rate limits live elsewhere, and their pressure evicts no shopper.
            sessions_redis_url=authenticated_redis_url(env, default="redis://session-store:6379/0"),
            session_secret=secret,
            session_seconds=env.integer("SESSION_SECONDS", 86400),
            sessions_per_client=env.integer("SESSIONS_PER_CLIENT", 100),
            # Secure cookies need HTTPS: on by default in production only.
            secure_cookies=env.flag("SECURE_COOKIES", env.production),
            page_size=env.integer("PAGE_SIZE", 12),
        )
