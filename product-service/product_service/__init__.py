"""product-service: the catalog and its stock."""

from pathlib import Path

from flask import Flask

import flotilla.internal
from flotilla import auth, health
from flotilla.app import create_base_app
from flotilla.auth import TokenVerifier
from flotilla.db import Database
from flotilla.openapi import register_openapi
from product_service import cache
from product_service.config import Config
from product_service.internal import internal
from product_service.routes import products

MIGRATIONS = [Path(__file__).parent / "migrations"]


def create_app(config: Config | None = None) -> Flask:
    """Build the product-service app: nothing here touches the database or the network."""
    config = config or Config.from_env()
    app = create_base_app(__name__, service="product-service", log_level=config.log_level)
    app.config["SETTINGS"] = config
    db = Database(config.database_url)
    db.init_app(app)
    auth.init_app(app, TokenVerifier(config.tokens))
    flotilla.internal.init_app(app, config.internal_token)
    # Redis only caches: readiness depends on the database alone.
    cache.init_app(app, config)
    app.register_blueprint(products)
    app.register_blueprint(internal)
    register_openapi(
        app,
        title="product-service",
        description="The catalog. Reads are public; writes need an admin access token.",
    )
    health.init_app(app, {"database": db.ping})
    return app
