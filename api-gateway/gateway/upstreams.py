"""Keep-alive connections and a circuit breaker per upstream service."""

from flask import Flask

from flotilla.breaker import CircuitBreaker
from flotilla.clients import connection_pool, pooled_session
from gateway.config import Config

# Forwarding uses the pools; /health and the merged document, rare, the sessions.
POOL_SIZE = 32


def init_app(app: Flask, config: Config) -> None:
    """Give every upstream its connection pool, session and breaker (app.extensions)."""
    app.extensions["gateway.pools"] = {
        name: connection_pool(url, POOL_SIZE) for name, url in config.upstreams.items()
    }
    app.extensions["gateway.sessions"] = {name: pooled_session(4) for name in config.upstreams}
    app.extensions["gateway.breakers"] = {
        name: CircuitBreaker(config.breaker.failures, config.breaker.open_seconds, name=name)
        for name in config.upstreams
    }
