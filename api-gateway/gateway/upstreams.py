"""The upstream registry: a pool of keep-alive connections and a circuit breaker per service."""

import requests
from flask import Flask

from flotilla.app import Slot
from flotilla.breaker import CircuitBreaker
from flotilla.clients import pooled_session
from gateway.config import Config

UPSTREAMS: Slot[dict[str, requests.Session]] = Slot("upstreams")
BREAKERS: Slot[dict[str, CircuitBreaker]] = Slot("breakers")
POOL_SIZE = 32


def register_upstreams(app: Flask, config: Config) -> None:
    """Give every upstream its own session (UPSTREAMS.get()) and breaker (BREAKERS.get())."""
    UPSTREAMS.set(app, {name: pooled_session(POOL_SIZE) for name in config.upstreams})
    BREAKERS.set(
        app,
        {
            name: CircuitBreaker(config.breaker.failures, config.breaker.open_seconds, name=name)
            for name in config.upstreams
        },
    )
