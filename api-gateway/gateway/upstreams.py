"""The upstream registry: keep-alive connections and a circuit breaker per service."""

import requests
from flask import Flask
from urllib3 import HTTPConnectionPool

from flotilla.app import Slot
from flotilla.breaker import CircuitBreaker
from flotilla.clients import connection_pool, pooled_session
from gateway.config import Config

# Forwarding uses the pools; /health and the merged document, rare, the sessions.
POOLS: Slot[dict[str, HTTPConnectionPool]] = Slot("pools")
UPSTREAMS: Slot[dict[str, requests.Session]] = Slot("upstreams")
BREAKERS: Slot[dict[str, CircuitBreaker]] = Slot("breakers")
POOL_SIZE = 32


def register_upstreams(app: Flask, config: Config) -> None:
    """Give every upstream its connection pool (POOLS.get()), session (UPSTREAMS.get()) and
    breaker (BREAKERS.get())."""
    POOLS.set(
        app, {name: connection_pool(url, POOL_SIZE) for name, url in config.upstreams.items()}
    )
    UPSTREAMS.set(app, {name: pooled_session(4) for name in config.upstreams})
    BREAKERS.set(
        app,
        {
            name: CircuitBreaker(config.breaker.failures, config.breaker.open_seconds, name=name)
            for name in config.upstreams
        },
    )
