"""__SERVICE__: its entries (made by `make service`; say here what it does)."""

from pathlib import Path

from flask import Flask

from flotilla import auth, health
from flotilla.app import create_base_app
from flotilla.auth import TokenVerifier
from flotilla.db import Database
from flotilla.openapi import register_openapi
from __PACKAGE__ import routes
from __PACKAGE__.config import Config

MIGRATIONS = [Path(__file__).parent / "migrations"]


def create_app(config: Config | None = None) -> Flask:
    """Build the __SERVICE__ app: nothing here touches the database or the network."""
    config = config or Config.from_env()
    app = create_base_app(__name__, service="__SERVICE__", log_level=config.log_level)
    app.config["SETTINGS"] = config
    db = Database(config.database_url)
    db.init_app(app)
    auth.init_app(app, TokenVerifier(config.tokens))
    app.register_blueprint(routes.entries)
    register_openapi(app, title="__SERVICE__", description="Its entries: say here what it does.")
    health.init_app(app, {"database": db.ping})
    return app
