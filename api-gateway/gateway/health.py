"""The gateway's /health: every upstream's readiness, asked in parallel and kept briefly."""

from concurrent.futures import ThreadPoolExecutor

import requests
from flask import Flask, current_app

from gateway.config import Config
from gateway.memo import Memo

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


def upstream_states() -> dict[str, str]:
    """Return every upstream's readiness for the current app, at most a second old."""
    return current_app.extensions["gateway.readiness"].states()


def init_app(app: Flask, config: Config) -> None:
    """Give the app its upstreams' readiness, asked over their sessions."""
    sessions = app.extensions["gateway.sessions"]
    app.extensions["gateway.readiness"] = Readiness(sessions, config.upstreams)
