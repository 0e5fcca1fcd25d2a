"""Fixed-window rate limits in Redis, shared by every gateway replica; fails open."""

import ipaddress
import logging
import math
import threading
import time
from dataclasses import dataclass

import redis
from flask import Flask, Response, g, request

from flotilla.app import Slot
from flotilla.errors import ApiError
from gateway.config import AUTH_LIMITED, Config, Limit, RateLimits

log = logging.getLogger(__name__)

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
# After Redis fails, stop asking it for a moment: a dead Redis must not add latency.
RETRY_REDIS_AFTER_SECONDS = 1.0


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
        self.redis = redis.Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_timeout,
            socket_connect_timeout=settings.redis_timeout,
            health_check_interval=30,
        )
        self.script = self.redis.register_script(HIT)
        self._down_until = 0.0
        self._lock = threading.Lock()

    def hit(self, key: str, limit: Limit) -> Verdict | None:
        """Count one request against key; None when Redis is unavailable (fail open)."""
        if time.monotonic() < self._down_until:
            return None
        window_ms = limit.seconds * 1000
        try:
            count, ttl_ms = self.script(keys=[f"ratelimit:{key}"], args=[window_ms])
        except redis.RedisError as error:
            self._failed(error)
            return None
        return Verdict(
            limit=limit.requests,
            remaining=limit.requests - int(count),
            reset_seconds=max(1, math.ceil(int(ttl_ms) / 1000)),
        )

    def _failed(self, error: Exception) -> None:
        with self._lock:
            if time.monotonic() < self._down_until:
                return
            self._down_until = time.monotonic() + RETRY_REDIS_AFTER_SECONDS
        log.warning("rate limits not enforced: redis unavailable", extra={"error": str(error)})


LIMITER: Slot[RateLimiter] = Slot("rate_limiter")


def register_limiter(app: Flask, config: Config) -> None:
    """Give the app its rate limiter (LIMITER.get())."""
    LIMITER.set(app, RateLimiter(config.rate_limits))


def client_ip(trusted: tuple) -> str:
    """Return the client's address: X-Forwarded-For only when NGINX (a trusted peer) set it."""
    peer = request.remote_addr or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if not forwarded or not _in_networks(peer, trusted):
        return peer
    # NGINX replaces the header, so its last entry is the address NGINX saw.
    candidate = forwarded.split(",")[-1].strip()
    return candidate if _is_ip(candidate) else peer


def _in_networks(address: str, networks: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def enforce(limiter: RateLimiter, user_id: int | None) -> None:
    """Count the current request; raise 429 when it is over its limit."""
    settings = limiter.settings
    if (request.method, request.path.rstrip("/")) in AUTH_LIMITED:
        # Keyed by address and route: sign-up and login are always anonymous.
        key = f"auth:{request.path.rstrip('/')}:{client_ip(settings.trusted_proxies)}"
        limit = settings.auth
    elif user_id is not None:
        key, limit = f"user:{user_id}", settings.default
    else:
        key, limit = f"ip:{client_ip(settings.trusted_proxies)}", settings.default
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


def add_headers(response: Response) -> Response:
    """Put the RateLimit-* headers of the request's verdict on its response."""
    verdict = g.get("rate_limit")
    if verdict is not None:
        for name, value in verdict.headers().items():
            response.headers.setdefault(name, value)
    return response
