"""api-gateway settings and its routing table, read once from the environment."""

from dataclasses import dataclass

from flotilla.auth import TokenSettings
from flotilla.config import Env


@dataclass(frozen=True)
class Route:
    """Requests for prefix or anything below it (prefix + "/...") go to upstream.

    auth: "none" (no token needed), "user" (a valid access token is required),
    or "writes" (reads are public, anything else needs a valid token).
    """

    prefix: str
    upstream: str
    auth: str


# Anything else under /api is a 404.
ROUTES = (
    Route("/api/auth", "user-service", auth="none"),
    Route("/api/users", "user-service", auth="user"),
    Route("/api/products", "product-service", auth="writes"),
    Route("/api/orders", "order-service", auth="user"),
)


@dataclass(frozen=True)
class Config:
    """Everything the gateway needs to start."""

    upstreams: dict[str, str]
    routes: tuple[Route, ...]
    tokens: TokenSettings
    connect_timeout: float
    read_timeout: float
    log_level: str

    @classmethod
    def from_env(cls, env: Env | None = None) -> "Config":
        """Read the settings; raise ConfigError when one cannot work."""
        env = env or Env()
        return cls(
            upstreams={
                "user-service": env.get("USER_SERVICE_URL", "http://user-service:8000"),
                "product-service": env.get("PRODUCT_SERVICE_URL", "http://product-service:8000"),
                "order-service": env.get("ORDER_SERVICE_URL", "http://order-service:8000"),
            },
            routes=ROUTES,
            tokens=TokenSettings.from_env(env),
            connect_timeout=env.number("UPSTREAM_CONNECT_TIMEOUT", 2.0),
            read_timeout=env.number("UPSTREAM_READ_TIMEOUT", 10.0),
            log_level=env.get("LOG_LEVEL", "INFO"),
        )

    def route_for(self, path: str) -> Route | None:
        """Return the route that serves a path, or None."""
        for route in self.routes:
            if path == route.prefix or path.startswith(route.prefix + "/"):
                return route
        return None
