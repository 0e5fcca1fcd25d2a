"""order-service's periodic jobs, run by order-worker (`python -m order_service worker`)."""

import logging

from flotilla import relay
from flotilla.db import get_db
from flotilla.worker import Job
from order_service import orders, repository
from order_service.config import RECOVERY_EVERY_SECONDS, settings
from order_service.products import product_service

log = logging.getLogger(__name__)


def purge_idempotency_keys() -> int:
    """Forget idempotency keys past their retention; return how many."""
    with get_db().transaction() as cursor:
        return repository.purge_idempotency_keys(
            cursor, older_than_hours=settings().idempotency_hours
        )


def settle_pending_orders() -> int:
    """Confirm or fail the orders their requests left pending; return how many."""
    config = settings()
    settled = orders.resolve_pending(
        get_db(), product_service(), older_than_seconds=config.settle_after_seconds
    )
    with get_db().transaction() as cursor:
        overdue = repository.count_pending_orders(
            cursor, older_than_seconds=config.recovery_seconds
        )
    if overdue:  # API.md's promise is broken: product-service has been unreachable for long
        log.error(
            "orders pending longer than ORDER_RECOVERY_SECONDS",
            extra={"orders": overdue, "recovery_seconds": config.recovery_seconds},
        )
    return settled


def return_cancelled_stock() -> int:
    """Return the stock of cancelled orders whose cancel was interrupted; return how many."""
    return orders.return_cancelled_stock(
        get_db(), product_service(), older_than_seconds=settings().settle_after_seconds
    )


JOBS = [
    Job("settle-pending-orders", RECOVERY_EVERY_SECONDS, settle_pending_orders),
    Job("return-cancelled-stock", RECOVERY_EVERY_SECONDS, return_cancelled_stock),
    Job("purge-idempotency-keys", 3600, purge_idempotency_keys),
    # The outbox's order.* events are published by this worker too.
    *relay.JOBS,
]
