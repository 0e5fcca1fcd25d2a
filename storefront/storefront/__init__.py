"""storefront: the shop's web pages, server-rendered, a client of the public API only."""

from flask import Flask

from flotilla import health
from flotilla.app import create_base_app
from storefront import api, security, sessions, templating
from storefront.config import Config
from storefront.routes import shop


def create_app(config: Config | None = None) -> Flask:
    """Build the storefront app: nothing here touches Redis or the API."""
    config = config or Config.from_env()
    app = create_base_app(__name__, service="storefront", log_level=config.log_level)
    app.config["SETTINGS"] = config
    sessions.init_app(app, config)
    api.init_app(app, config)
    # After the base app's: friendly HTML error pages replace the JSON ones.
    security.init_app(app)
    templating.init_app(app)
    app.register_blueprint(shop)
    health.init_app(app, {"redis": sessions.redis_ping})
    return app
