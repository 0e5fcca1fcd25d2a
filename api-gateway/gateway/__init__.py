"""api-gateway: one door to every service, checking tokens and limits before forwarding."""

from flask import Flask

import flotilla.auth
import flotilla.health
from flotilla.app import create_base_app
from flotilla.auth import TokenVerifier
from gateway import health, openapi, ratelimit, upstreams
from gateway.config import Config
from gateway.routes import api, edge


def create_app(config: Config | None = None) -> Flask:
    """Build the api-gateway app: nothing here touches Redis or an upstream."""
    config = config or Config.from_env()
    app = create_base_app(__name__, service="api-gateway", log_level=config.log_level)
    app.config["SETTINGS"] = config
    flotilla.auth.init_app(app, TokenVerifier(config.tokens))
    # /health and the merged document use the upstreams' sessions: set up after them.
    upstreams.init_app(app, config)
    ratelimit.init_app(app, config)
    health.init_app(app, config)
    openapi.init_app(app, config)
    app.register_blueprint(api)
    app.register_blueprint(edge)
    # The gateway needs nothing to serve but its upstreams, which /health reports.
    flotilla.health.init_app(app, {})
    return app
