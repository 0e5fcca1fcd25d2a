"""Liveness and readiness endpoints: /livez answers while the process runs,
/readyz only while every dependency answers."""

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, Response, jsonify

log = logging.getLogger(__name__)

Check = Callable[[], None]
# Facts /readyz shows beside the checks (an outbox's backlog) that never make it 503.
Report = Callable[[], Mapping[str, Any]]


def add_report(app: Flask, name: str, report: Report) -> None:
    """Show report() under `reports` in the app's /readyz."""
    app.extensions.setdefault("flotilla.health.reports", {})[name] = report


def reports(app: Flask) -> Mapping[str, Report]:
    """Return the app's reports by name."""
    return app.extensions.get("flotilla.health.reports", {})


def init_app(app: Flask, checks: Mapping[str, Check]) -> None:
    """Add /livez and /readyz; each check raises when its dependency is down."""
    health = Blueprint("health", __name__)
    reports = app.extensions.setdefault("flotilla.health.reports", {})

    @health.get("/livez")
    def livez() -> Response:
        return jsonify(status="ok")

    @health.get("/readyz")
    def readyz() -> Response | tuple[Response, int]:
        results = {name: _run(name, check) for name, check in checks.items()}
        healthy = all(result == "ok" for result in results.values())
        body: dict[str, Any] = {"status": "ok" if healthy else "unavailable", "checks": results}
        if reports:
            body["reports"] = {name: _report(name, report) for name, report in reports.items()}
        return jsonify(body), (200 if healthy else 503)

    app.register_blueprint(health)


def _run(name: str, check: Check) -> str:
    try:
        check()
    except Exception as error:  # any failure means "not ready", whatever raised it
        log.warning("readiness check failed", extra={"check": name, "error": str(error)})
        return "failing"
    return "ok"


def _report(name: str, report: Report) -> Mapping[str, Any] | str:
    try:
        return report()
    except Exception as error:  # a report is informative: its failure changes no status
        log.warning("readiness report failed", extra={"report": name, "error": str(error)})
        return "unavailable"
