"""Liveness and readiness endpoints: /livez answers while the process runs,
/readyz only while every dependency answers."""

import logging
from collections.abc import Callable, Mapping

from flask import Blueprint, Flask, Response, jsonify

log = logging.getLogger(__name__)

Check = Callable[[], None]


def init_app(app: Flask, checks: Mapping[str, Check]) -> None:
    """Add /livez and /readyz; each check raises when its dependency is down."""
    health = Blueprint("health", __name__)

    @health.get("/livez")
    def livez() -> Response:
        return jsonify(status="ok")

    @health.get("/readyz")
    def readyz() -> tuple[Response, int]:
        results = {name: _run(name, check) for name, check in checks.items()}
        healthy = all(result == "ok" for result in results.values())
        body = jsonify(status="ok" if healthy else "unavailable", checks=results)
        return body, (200 if healthy else 503)

    app.register_blueprint(health)


def _run(name: str, check: Check) -> str:
    try:
        check()
    except Exception as error:  # any failure means "not ready", whatever raised it
        log.warning("readiness check failed", extra={"check": name, "error": str(error)})
        return "failing"
    return "ok"
