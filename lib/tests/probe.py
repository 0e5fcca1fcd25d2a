"""The smallest app built from flotilla's helpers: what gunicorn serves in these tests."""

from flask import Flask

from flotilla import health
from flotilla.app import create_base_app


def create_app() -> Flask:
    """Build an app with /livez, /readyz and /metrics, and a route with a variable."""
    app = create_base_app(__name__, service="probe")
    app.add_url_rule("/probe/<int:number>", "probe", lambda number: {"number": number})
    health.init_app(app, {})
    return app
