"""order-service: orders, placed against product-service's stock."""

from pathlib import Path

from flask import Flask

from flotilla import outbox, relay
from flotilla.service import Job, Service
from order_service import routes
from order_service.config import RECOVERY_EVERY_SECONDS, Config
from order_service.jobs import purge_idempotency_keys, return_cancelled_stock, settle_pending_orders
from order_service.products import register_products

service = Service(
    name="order-service",
    import_name=__name__,
    config=Config,
    # Named through the module: `order_service.orders` is the module of placing and cancelling.
    blueprints=[routes.orders],
    migrations=[Path(__file__).parent / "migrations", outbox.MIGRATIONS],
    openapi="Orders placed against product-service's stock. Every route needs an access token.",
    # product-service being down is answered per request (503); it does not make us unready.
    extensions=[register_products, outbox.report_backlog],
    # order-worker also publishes the outbox's order.* events (flotilla.relay).
    jobs=[
        Job("settle-pending-orders", RECOVERY_EVERY_SECONDS, settle_pending_orders),
        Job("return-cancelled-stock", RECOVERY_EVERY_SECONDS, return_cancelled_stock),
        Job("purge-idempotency-keys", 3600, purge_idempotency_keys),
        *relay.JOBS,
    ],
)


def create_app(config: Config | None = None) -> Flask:
    """Build the order-service app."""
    return service.create_app(config)
