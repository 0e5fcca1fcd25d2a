"""user-service: accounts, passwords and tokens."""

from pathlib import Path

from flask import Flask

from flotilla import health, outbox
from flotilla.app import create_base_app
from flotilla.db import Database
from flotilla.openapi import register_openapi
from user_service import tokens
from user_service.config import Config
from user_service.routes import auth, keys, users

MIGRATIONS = [Path(__file__).parent / "migrations", outbox.MIGRATIONS]


def create_app(config: Config | None = None) -> Flask:
    """Build the user-service app: nothing here touches the database or the network."""
    config = config or Config.from_env()
    app = create_base_app(__name__, service="user-service", log_level=config.log_level)
    app.config["SETTINGS"] = config
    db = Database(config.database_url)
    db.init_app(app)
    # Signs tokens and verifies them against its own keys (no JWKS round trip).
    tokens.init_app(app, config)
    outbox.init_app(app)
    app.register_blueprint(auth)
    app.register_blueprint(users)
    app.register_blueprint(keys)
    register_openapi(
        app,
        title="user-service",
        description="Accounts, passwords and tokens.",
    )
    health.init_app(app, {"database": db.ping})
    return app
