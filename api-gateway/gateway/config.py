"""api-gateway settings and its routing table, read once from the environment."""

import ipaddress
import re
from dataclasses import dataclass
from functools import cached_property

from urllib3 import Timeout
from urllib3.util import parse_url

from flotilla.auth import TokenSettings
from flotilla.config import ConfigError, Env, authenticated_redis_url

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Docker's private address ranges: where NGINX's requests come from by default.
DOCKER_NETWORKS = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fd00::/8"
_LIMIT = re.compile(r"(\d+)/(\d+)")


@dataclass(frozen=True)
class Route:
    """Requests for prefix or anything below it (prefix + "/...") go to upstream.

    auth: "none" (no token needed), "user" (a valid access token is required),
    or "writes" (reads are public, anything else needs a valid token).
    """

    prefix: str
    upstream: str
    auth: str


# Anything else under /api is a 404. Each upstream is a service of services.txt (its routes
# column lists the same prefixes); `make service` and `make remove-service` edit this table.
ROUTES = (
    Route("/api/auth", "user-service", auth="none"),
    Route("/api/users", "user-service", auth="user"),
    Route("/api/products", "product-service", auth="writes"),
    Route("/api/orders", "order-service", auth="user"),
    Route("/api/notifications", "notification-service", auth="user"),
)
# The stricter limit: what a password-guessing or sign-up flood goes through.
AUTH_LIMITED = frozenset({("POST", "/api/auth/login"), ("POST", "/api/auth/register")})
# Calls that hash a password only when their JSON body has this field: the stricter limit
# too, per user (each costs user-service one or two Argon2 hashes of 64 MiB).
PASSWORD_CHECKED = {("PATCH", "/api/users/me"): "current_password"}


@dataclass(frozen=True)
class Limit:
    """At most `requests` in every window of `seconds`."""

    requests: int
    seconds: int

    @classmethod
    def parse(cls, name: str, raw: str) -> "Limit":
        """Read "REQUESTS/SECONDS" (e.g. "600/60"); raise ConfigError otherwise."""
        match = _LIMIT.fullmatch(raw.strip())
        if not match or int(match[1]) < 1 or int(match[2]) < 1:
            raise ConfigError(f"{name} must look like REQUESTS/SECONDS (e.g. 600/60), got {raw!r}")
        return cls(int(match[1]), int(match[2]))


@dataclass(frozen=True)
class RateLimits:
    """Rate limits kept in Redis: the default one and the one for login and sign-up."""

    redis_url: str
    default: Limit
    auth: Limit
    trusted_proxies: tuple[IPNetwork, ...]
    redis_timeout: float

    @classmethod
    def from_env(cls, env: Env) -> "RateLimits":
        """Read the rate-limit settings."""
        return cls(
            redis_url=authenticated_redis_url(env, default="redis://redis:6379/0"),
            default=Limit.parse("RATE_LIMIT_DEFAULT", env.get("RATE_LIMIT_DEFAULT", "600/60")),
            auth=Limit.parse("RATE_LIMIT_AUTH", env.get("RATE_LIMIT_AUTH", "20/60")),
            trusted_proxies=parse_networks(env.get("TRUSTED_PROXIES", DOCKER_NETWORKS)),
            redis_timeout=env.number("REDIS_TIMEOUT", 0.25),
        )


@dataclass(frozen=True)
class Breaker:
    """A circuit opens after `failures` failures in a row and stays open `open_seconds`."""

    failures: int
    open_seconds: float

    @classmethod
    def from_env(cls, env: Env) -> "Breaker":
        """Read the circuit-breaker settings."""
        failures = env.integer("BREAKER_FAILURES", 5)
        open_seconds = env.number("BREAKER_OPEN_SECONDS", 10.0)
        if failures < 1 or open_seconds <= 0:
            raise ConfigError("BREAKER_FAILURES must be >= 1 and BREAKER_OPEN_SECONDS > 0")
        return cls(failures, open_seconds)


def parse_networks(raw: str) -> tuple[IPNetwork, ...]:
    """Read a comma-separated list of CIDR networks; raise ConfigError on a bad one."""
    try:
        return tuple(ipaddress.ip_network(part.strip()) for part in raw.split(",") if part.strip())
    except ValueError as error:
        raise ConfigError(f"TRUSTED_PROXIES: {error}") from None


# Each upstream's base URL: <NAME>_SERVICE_URL (order-service: ORDER_SERVICE_URL), by
# default http://<name>:8000.
UPSTREAM_VARIABLES = {
    route.upstream: route.upstream.upper().replace("-", "_") + "_URL" for route in ROUTES
}


def upstream_url(env: Env, variable: str, *, default: str) -> str:
    """Return a service's base URL: scheme, host and port only (requests keep their path)."""
    raw = env.get(variable, default)
    try:
        url = parse_url(raw)
    except ValueError:
        url = None
    if (
        url is None
        or url.scheme not in {"http", "https"}
        or not url.host
        or len(url.path or "") > 1
    ):
        raise ConfigError(f"{variable} must be http(s)://host[:port], got {raw!r}")
    return raw.rstrip("/")


@dataclass(frozen=True)
class Config:
    """Everything the gateway needs to start (it has no database of its own)."""

    log_level: str
    tokens: TokenSettings
    upstreams: dict[str, str]
    routes: tuple[Route, ...]
    connect_timeout: float
    read_timeout: float
    rate_limits: RateLimits
    breaker: Breaker

    @classmethod
    def from_env(cls, env: Env | None = None) -> "Config":
        """Read the settings; raise ConfigError when one cannot work."""
        env = env or Env()
        return cls(
            log_level=env.get("LOG_LEVEL", "INFO"),
            tokens=TokenSettings.from_env(env),
            upstreams={
                name: upstream_url(env, variable, default=f"http://{name}:8000")
                for name, variable in UPSTREAM_VARIABLES.items()
            },
            routes=ROUTES,
            connect_timeout=env.number("UPSTREAM_CONNECT_TIMEOUT", 2.0),
            read_timeout=env.number("UPSTREAM_READ_TIMEOUT", 10.0),
            rate_limits=RateLimits.from_env(env),
            breaker=Breaker.from_env(env),
        )

    @cached_property
    def upstream_timeout(self) -> Timeout:
        """The connect and read timeouts of every forwarded call, built once."""
        return Timeout(connect=self.connect_timeout, read=self.read_timeout)

    def route_for(self, path: str) -> Route | None:
        """Return the route that serves a path, or None."""
        for route in self.routes:
            if path == route.prefix or path.startswith(route.prefix + "/"):
                return route
        return None
