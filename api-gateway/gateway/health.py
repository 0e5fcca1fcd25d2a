"""The gateway's /health: every upstream's readiness, asked in parallel and kept briefly."""

from concurrent.futures import ThreadPoolExecutor

import requests
from flask import Flask

from flotilla.app import Slot
from gateway.config import Config
from gateway.memo import Memo
from gateway.upstreams import UPSTREAMS

HEALTH_TIMEOUT_SECONDS = 2.0
# /health is public and anonymous: answered from this for a moment, a flood of calls costs
# the services one /readyz each per worker and second, not one per call.
HEALTH_CACHE_SECONDS = 1.0


class Readiness:
    """Every upstream's readiness: "ok", "unavailable" or "unreachable" by name."""

    def __init__(self, sessions: dict[str, requests.Session], upstreams: dict[str, str]) -> None:
        self.sessions = sessions
        self.upstreams = upstreams
        self._states = Memo(self._ask, lambda _: HEALTH_CACHE_SECONDS)

    def states(self) -> dict[str, str]:
        """Return the states asked at most HEALTH_CACHE_SECONDS ago."""
        return self._states.get()

    def _ask(self) -> dict[str, str]:
        # In parallel, so one hanging service costs the timeout once, not once per service.
        with ThreadPoolExecutor(max_workers=len(self.upstreams)) as pool:
            checks = {
                name: pool.submit(_readiness, self.sessions[name], url)
                for name, url in self.upstreams.items()
            }
        return {name: check.result() for name, check in checks.items()}


def _readiness(session: requests.Session, base_url: str) -> str:
    try:
        response = session.get(f"{base_url}/readyz", timeout=HEALTH_TIMEOUT_SECONDS)
    except requests.RequestException:
        return "unreachable"
    return "ok" if response.status_code == 200 else "unavailable"


READINESS: Slot[Readiness] = Slot("readiness")


def upstream_states() -> dict[str, str]:
    """Return every upstream's readiness for the current app, at most a second old."""
    return READINESS.get().states()


def register_readiness(app: Flask, config: Config) -> None:
    """Give the app its upstreams' readiness (READINESS.get()), asked over their sessions."""
    READINESS.set(app, Readiness(UPSTREAMS.get(app), config.upstreams))
