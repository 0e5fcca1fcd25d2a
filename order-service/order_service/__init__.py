"""order-service: orders, placed against product-service's stock."""

from pathlib import Path

from flask import Flask

from flotilla import create_base_app
from flotilla.auth import TokenVerifier, init_tokens
from flotilla.db import Database, migrate
from flotilla.health import register_health
from order_service.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(config: Config | None = None) -> Flask:
    """Build the order-service app."""
    config = config or Config.from_env()
    app = create_base_app(__name__, service="order-service", log_level=config.log_level)
    app.config["SERVICE"] = config
    migrate(config.database_url, MIGRATIONS)
    db = Database(config.database_url)
    db.init_app(app)
    init_tokens(app, TokenVerifier(config.tokens))
    register_health(app, {"database": db.ping})
    return app
