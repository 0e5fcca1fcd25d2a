"""order-service: orders, placed against product-service's stock."""

from pathlib import Path

from flask import Flask

from flotilla import auth, health, internal, metrics, outbox
from flotilla.app import create_base_app
from flotilla.auth import TokenVerifier
from flotilla.db import Database, get_db
from flotilla.openapi import register_openapi
from order_service import products, repository, routes
from order_service.config import Config, settings

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
    metrics.add_gauges(
        app,
        "orders",
        "Pending orders; the oldest one's age (s); how many are past the recovery window.",
        pending_orders,
    )
    app.register_blueprint(routes.orders)
    register_openapi(
        app,
        title="order-service",
        description="Orders placed against product-service's stock. Every route needs a token.",
    )
    health.init_app(app, {"database": db.ping})
    return app


def pending_orders() -> dict[str, float]:
    """The pending orders, the oldest one's age and how many are past the recovery window:
    order-worker's orders_* gauges (docs/operations.md)."""
    with get_db().transaction() as cursor:
        row = repository.pending_summary(cursor, overdue_after_seconds=settings().recovery_seconds)
    return {key: float(value) for key, value in row.items()}
