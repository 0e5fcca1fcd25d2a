"""product-service: the catalog and its stock."""

from pathlib import Path

from flask import Flask

from flotilla import create_base_app
from flotilla.auth import TokenVerifier, init_tokens
from flotilla.db import Database, migrate
from flotilla.health import register_health
from product_service.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(config: Config | None = None) -> Flask:
    """Build the product-service app."""
    config = config or Config.from_env()
    app = create_base_app(__name__, service="product-service", log_level=config.log_level)
    app.config["SERVICE"] = config
    migrate(config.database_url, MIGRATIONS)
    db = Database(config.database_url)
    db.init_app(app)
    init_tokens(app, TokenVerifier(config.tokens))
    # Redis only caches: readiness depends on the database alone.
    register_health(app, {"database": db.ping})
    return app
