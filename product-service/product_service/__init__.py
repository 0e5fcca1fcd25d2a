"""product-service: the catalog and its stock."""

from pathlib import Path

from flask import Flask

from flotilla import create_base_app
from flotilla.auth import TokenVerifier, init_tokens
from flotilla.db import Database, migrate
from flotilla.health import register_health
from flotilla.openapi import load_document, register_openapi
from product_service.cache import ProductCache
from product_service.config import Config
from product_service.internal import internal
from product_service.routes import products

MIGRATIONS = Path(__file__).parent / "migrations"
OPENAPI = Path(__file__).parent / "openapi.json"


def create_app(config: Config | None = None) -> Flask:
    """Build the product-service app."""
    config = config or Config.from_env()
    app = create_base_app(__name__, service="product-service", log_level=config.log_level)
    app.config["SERVICE"] = config
    migrate(config.database_url, MIGRATIONS)
    db = Database(config.database_url)
    db.init_app(app)
    init_tokens(app, TokenVerifier(config.tokens))
    register_cache(app, config)
    app.register_blueprint(products)
    app.register_blueprint(internal)
    register_openapi(app, load_document(OPENAPI))
    # Redis only caches: readiness depends on the database alone.
    register_health(app, {"database": db.ping})
    return app


def register_cache(app: Flask, config: Config) -> None:
    """Make the product cache available as app.extensions['product_cache']."""
    app.extensions["product_cache"] = ProductCache(
        config.redis_url,
        ttl_seconds=config.cache_ttl_seconds,
        timeout_seconds=config.redis_timeout_seconds,
    )
