"""order-service: orders, placed against product-service's stock."""

import logging
from pathlib import Path

from flask import Flask

from flotilla import create_base_app
from flotilla.auth import TokenVerifier, init_tokens
from flotilla.db import Database, migrate
from flotilla.health import register_health
from flotilla.openapi import load_document, register_openapi
from order_service import repository
from order_service.config import Config
from order_service.products import ProductService
from order_service.routes import orders

MIGRATIONS = Path(__file__).parent / "migrations"
OPENAPI = Path(__file__).parent / "openapi.json"
log = logging.getLogger(__name__)


def create_app(config: Config | None = None) -> Flask:
    """Build the order-service app."""
    config = config or Config.from_env()
    app = create_base_app(__name__, service="order-service", log_level=config.log_level)
    app.config["SERVICE"] = config
    migrate(config.database_url, MIGRATIONS)
    db = Database(config.database_url)
    db.init_app(app)
    init_tokens(app, TokenVerifier(config.tokens))
    app.extensions["product_service"] = ProductService.create(
        config.product_service_url,
        token=config.internal_token,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
    )
    app.register_blueprint(orders)
    register_openapi(app, load_document(OPENAPI))
    # product-service being down is answered per request (503); it does not make us unready.
    register_health(app, {"database": db.ping})
    purge_idempotency_keys(db, config)
    return app


def purge_idempotency_keys(db: Database, config: Config) -> None:
    """Forget idempotency keys past their retention (each start; repeats purge per user)."""
    with db.transaction() as cursor:
        purged = repository.purge_idempotency_keys(
            cursor, older_than_hours=config.idempotency_hours
        )
    if purged:
        log.info("purged idempotency keys", extra={"count": purged})
