"""The upstream registry: a pool of keep-alive connections and a circuit breaker per service."""

import requests
from flask import Flask
from requests.adapters import HTTPAdapter

from flotilla.app import Slot
from flotilla.breaker import CircuitBreaker
from gateway.config import Config

UPSTREAMS: Slot[dict[str, requests.Session]] = Slot("upstreams")
BREAKERS: Slot[dict[str, CircuitBreaker]] = Slot("breakers")


def register_upstreams(app: Flask, config: Config) -> None:
    """Give every upstream its own session (UPSTREAMS.get()) and breaker (BREAKERS.get())."""
    sessions, breakers = {}, {}
    for name in config.upstreams:
        session = requests.Session()
        session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=32))
        session.trust_env = False
        sessions[name] = session
        breakers[name] = CircuitBreaker(
            config.breaker.failures, config.breaker.open_seconds, name=name
        )
    UPSTREAMS.set(app, sessions)
    BREAKERS.set(app, breakers)
