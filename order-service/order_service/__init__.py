"""order-service: orders, placed against product-service's stock."""

from pathlib import Path

from flask import Flask

from flotilla import auth, health, internal, outbox
from flotilla.app import create_base_app
from flotilla.auth import TokenVerifier
from flotilla.db import Database
from flotilla.openapi import register_openapi
from order_service import products, routes
from order_service.config import Config

MIGRATIONS = [Path(__file__).parent / "migrations", outbox.MIGRATIONS]


def create_app(config: Config | None = None) -> Flask:
    """Build the order-service app: nothing here touches the database or the network."""
    config = config or Config.from_env()
    app = create_base_app(__name__, service="order-service", log_level=config.log_level)
    app.config["SETTINGS"] = config
    db = Database(config.database_url)
    db.init_app(app)
    auth.init_app(app, TokenVerifier(config.tokens))
    internal.init_app(app, config.internal_token)
    # product-service being down is answered per request (503); it does not make us unready.
    products.init_app(app, config)
    outbox.init_app(app)
    app.register_blueprint(routes.orders)
    register_openapi(
        app,
        title="order-service",
        description="Orders placed against product-service's stock. Every route needs a token.",
    )
    health.init_app(app, {"database": db.ping})
    return app
