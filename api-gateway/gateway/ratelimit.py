"""Fixed-window rate limits in Redis, shared by every gateway replica; fails open."""

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, has_request_context, request

from flotilla.clients import addresses
from flotilla.errors import ApiError
from flotilla.redis_client import RedisCircuit, fail_fast_redis
from gateway.config import (
    AUTH_LIMITED,
    PASSWORD_CHECKED,
    Config,
    Limit,
    RateLimits,
    TrustedProxies,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# How old the addresses of TRUSTED_PROXIES' names may get: as long as NGINX keeps those it
# looks up (it resolves them again every 5 s), so a proxy's old address is not believed for longer.
PROXY_ADDRESSES_SECONDS = 5.0
# A forwarded request from a peer that is none of them looks the names up again, at most
# this often: a proxy restarted at a new address is believed within it, and a peer forging
# the header costs a lookup an interval, not one a request.
PROXY_RECHECK_SECONDS = 1.0
PROXY_LOOKUP_TIMEOUT = 0.5

# One round trip, atomic: count the hit and start the window on its first hit. The
# PTTL repair covers a key that lost its expiry (e.g. restored from an old dump).
HIT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if count == 1 or ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


@dataclass(frozen=True)
class Verdict:
    """The outcome of one hit: what the RateLimit-* headers say."""

    limit: int
    remaining: int
    reset_seconds: int

    @property
    def allowed(self) -> bool:
        """Whether the request is within its limit."""
        return self.remaining >= 0

    def headers(self) -> dict[str, str]:
        """Return the RateLimit-* headers (IETF draft), plus Retry-After when refused."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(self.remaining, 0)),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


class RateLimiter:
    """Counts requests per key in Redis; answers None (allow) when Redis cannot."""

    def __init__(self, settings: RateLimits) -> None:
        self.settings = settings
        self.redis = fail_fast_redis(settings.redis_url, timeout=settings.redis_timeout)
        self.script = self.redis.register_script(HIT)
        # A dead or hanging Redis costs the requests that meet its failure, then nothing.
        self.circuit = RedisCircuit(
            self.redis, unavailable="rate limits not enforced: redis unavailable"
        )

    def hit(self, key: str, limit: Limit) -> Verdict | None:
        """Count one request against key; None when Redis is unavailable (fail open)."""
        window_ms = limit.seconds * 1000
        counted = self.circuit.run(
            "hit", lambda: self.script(keys=[f"ratelimit:{key}"], args=[window_ms])
        )
        if counted is None:
            return None
        count, ttl_ms = counted
        return Verdict(
            limit=limit.requests,
            remaining=limit.requests - int(count),
            reset_seconds=max(1, math.ceil(int(ttl_ms) / 1000)),
        )


class ProxyAddresses:
    """Tells the peers of TRUSTED_PROXIES: its networks, and the addresses its names have now."""

    def __init__(
        self, proxies: TrustedProxies, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.proxies = proxies
        self.clock = clock
        self._by_name: dict[str, frozenset[IPAddress]] = {}  # changed under the lock only
        self._addresses: frozenset[IPAddress] = frozenset()  # replaced whole: read without it
        self._looked_up_at = -math.inf
        self._lock = threading.Lock()

    def trusts(self, peer: str) -> bool:
        """Return whether peer is one of the trusted proxies."""
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        if any(address in network for network in self.proxies.networks):
            return True
        if not self.proxies.names:
            return False
        age = self.clock() - self._looked_up_at
        if age >= PROXY_ADDRESSES_SECONDS or (
            address not in self._addresses and age >= PROXY_RECHECK_SECONDS
        ):
            self._look_up()
        return address in self._addresses

    def _look_up(self) -> None:
        with self._lock:
            if self.clock() - self._looked_up_at < PROXY_RECHECK_SECONDS:
                return  # another thread just did
            for name in self.proxies.names:
                found = addresses(name, PROXY_LOOKUP_TIMEOUT)
                # A failed lookup keeps what the name had: a proxy that is gone sends
                # nothing, and one whose lookup failed must not become a single client.
                if found is not None:
                    self._by_name[name] = frozenset(ipaddress.ip_address(a) for a in found)
            self._addresses = frozenset().union(*self._by_name.values())
            self._looked_up_at = self.clock()


def init_app(app: Flask, config: Config) -> None:
    """Give the app its rate limiter and proxies; access lines name the client it used."""
    app.extensions["gateway.limiter"] = RateLimiter(config.rate_limits)
    app.extensions["gateway.proxies"] = ProxyAddresses(config.rate_limits.trusted_proxies)
    logging.getLogger("flotilla.access").addFilter(CLIENT_IN_ACCESS_LOG)  # once per process


def client_address() -> str:
    """Return the current request's client address, as rate limits and logs know it."""
    if "client" not in g:
        g.client = client_ip(current_app.extensions["gateway.proxies"])
    return g.client


class ClientInAccessLog(logging.Filter):
    """Puts the client address on the gateway's access lines, so logs and limits agree."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add `client` to records logged while a request is handled."""
        if has_request_context():
            record.client = client_address()
        return True


CLIENT_IN_ACCESS_LOG = ClientInAccessLog()


def client_ip(proxies: ProxyAddresses) -> str:
    """Return the client's address: X-Forwarded-For only when a trusted proxy set it."""
    peer = request.remote_addr or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if not forwarded or not proxies.trusts(peer):
        return peer
    # NGINX replaces the header, so its last entry is the address NGINX saw.
    candidate = forwarded.split(",")[-1].strip()
    return candidate if _is_ip(candidate) else peer


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def enforce(limiter: RateLimiter, user_id: int | None) -> None:
    """Count the current request; raise 429 when it is over its limit."""
    settings = limiter.settings
    route = (request.method, request.path.rstrip("/"))
    if route in AUTH_LIMITED:
        # Keyed by address and route: sign-up and login are always anonymous.
        key = f"auth:{route[1]}:{client_address()}"
        limit = settings.auth
    elif user_id is not None and checks_password(PASSWORD_CHECKED.get(route)):
        key, limit = f"auth:{route[1]}:user:{user_id}", settings.auth
    elif user_id is not None:
        key, limit = f"user:{user_id}", settings.default
    else:
        key, limit = f"ip:{client_address()}", settings.default
    verdict = limiter.hit(key, limit)
    if verdict is None:
        return
    g.rate_limit = verdict
    if not verdict.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"Too many requests; retry in {verdict.reset_seconds} s",
            headers=verdict.headers(),
        )


def checks_password(field: str | None) -> bool:
    """Tell whether the request's JSON body has the field that makes its service hash."""
    if field is None:
        return False
    try:
        body = request.get_json(silent=True)  # None unless JSON, as the service reads it
    except RecursionError:  # nested too deep: the service refuses it before any hash
        return False
    return isinstance(body, dict) and field in body


def add_headers(response: Response) -> Response:
    """Put the RateLimit-* headers of the request's verdict on its response."""
    verdict = g.get("rate_limit")
    if verdict is not None:
        for name, value in verdict.headers().items():
            response.headers.setdefault(name, value)
    return response
