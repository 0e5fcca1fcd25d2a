"""api-gateway settings and its routing table, read once from the environment."""

import ipaddress
import re
from dataclasses import dataclass
from functools import cached_property

from urllib3 import Timeout
from urllib3.util import parse_url

from flotilla.auth import TokenSettings
from flotilla.config import PLACEHOLDERS, ConfigError, Env, authenticated_redis_url

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Docker's private address ranges: where NGINX's requests come from in development (and the
# tests, which play NGINX from any container).
DOCKER_NETWORKS = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fd00::/8"
# Production believes the two proxies in front of the gateway and nobody else: NGINX, and the
# storefront, which forwards its shoppers' addresses. By name: Compose and Swarm give their
# containers new addresses on every start, but always under these names.
PRODUCTION_PROXIES = "nginx,storefront"
# In production no network of TRUSTED_PROXIES may hold more addresses: an edge subnet (at
# most a /16), never a whole private range with every container of the host in it.
MAX_PRODUCTION_ADDRESSES = 2**16
_LIMIT = re.compile(r"(\d+)/(\d+)")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")


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
class TrustedProxies:
    """The peers whose X-Forwarded-For is believed: networks, and host names looked up while
    the gateway runs (gateway.ratelimit.ProxyAddresses)."""

    networks: tuple[IPNetwork, ...]
    names: tuple[str, ...]

    @classmethod
    def parse(cls, raw: str, *, production: bool) -> "TrustedProxies":
        """Read comma-separated CIDRs, addresses and host names; raise ConfigError on a bad
        one, and in production on a placeholder or a network broader than an edge subnet."""
        networks, names = [], []
        for entry in (part.strip() for part in raw.split(",")):
            if not entry:
                continue
            if production and entry.lower() in PLACEHOLDERS:
                raise ConfigError(f"TRUSTED_PROXIES: {entry!r} is a placeholder")
            network = _network(entry)
            if network is None:
                names.append(entry)
            elif production and network.num_addresses > MAX_PRODUCTION_ADDRESSES:
                raise ConfigError(
                    f"TRUSTED_PROXIES: {network} is too broad for production: name the proxies"
                    f" ({PRODUCTION_PROXIES}, the default) or give the edge network's subnet"
                )
            else:
                networks.append(network)
        return cls(tuple(networks), tuple(names))


def _network(entry: str) -> IPNetwork | None:
    """Return the network an entry of TRUSTED_PROXIES names, or None for a host name."""
    try:
        return ipaddress.ip_network(entry)
    except ValueError as error:
        if _HOSTNAME.fullmatch(entry) and not entry.replace(".", "").isdigit():
            return None
        raise ConfigError(f"TRUSTED_PROXIES: {error}") from None


@dataclass(frozen=True)
class RateLimits:
    """Rate limits kept in Redis: the default one and the one for login and sign-up."""

    redis_url: str
    default: Limit
    auth: Limit
    trusted_proxies: TrustedProxies
    redis_timeout: float

    @classmethod
    def from_env(cls, env: Env) -> "RateLimits":
        """Read the rate-limit settings."""
        proxies = env.get(
            "TRUSTED_PROXIES", PRODUCTION_PROXIES if env.production else DOCKER_NETWORKS
        )
        return cls(
            redis_url=authenticated_redis_url(env, default="redis://redis:6379/0"),
            default=Limit.parse("RATE_LIMIT_DEFAULT", env.get("RATE_LIMIT_DEFAULT", "600/60")),
            auth=Limit.parse("RATE_LIMIT_AUTH", env.get("RATE_LIMIT_AUTH", "20/60")),
            trusted_proxies=TrustedProxies.parse(proxies, production=env.production),
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
