"""The gateway's /health: every upstream's readiness, asked in parallel."""

from concurrent.futures import ThreadPoolExecutor

import requests

from gateway.config import Config
from gateway.upstreams import UPSTREAMS

HEALTH_TIMEOUT_SECONDS = 2.0


def upstream_states() -> dict[str, str]:
    """Return "ok", "unavailable" or "unreachable" for every upstream of the current app."""
    config = Config.current()
    sessions = UPSTREAMS.get()
    # In parallel, so one hanging service costs the timeout once, not once per service.
    with ThreadPoolExecutor(max_workers=len(config.upstreams)) as pool:
        checks = {
            name: pool.submit(_readiness, sessions[name], url)
            for name, url in config.upstreams.items()
        }
    return {name: check.result() for name, check in checks.items()}


def _readiness(session: requests.Session, base_url: str) -> str:
    try:
        response = session.get(f"{base_url}/readyz", timeout=HEALTH_TIMEOUT_SECONDS)
    except requests.RequestException:
        return "unreachable"
    return "ok" if response.status_code == 200 else "unavailable"
