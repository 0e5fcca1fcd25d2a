"""order-service's periodic jobs, run by its worker (flotilla.worker)."""

import logging

from flotilla.db import get_db
from order_service import orders, repository
from order_service.config import Config
from order_service.products import PRODUCTS

log = logging.getLogger(__name__)


def purge_idempotency_keys() -> int:
    """Forget idempotency keys past their retention; return how many."""
    with get_db().transaction() as cursor:
        return repository.purge_idempotency_keys(
            cursor, older_than_hours=Config.current().idempotency_hours
        )


def settle_pending_orders() -> int:
    """Confirm or fail the orders their requests left pending; return how many."""
    config = Config.current()
    settled = orders.resolve_pending(
        get_db(), PRODUCTS.get(), older_than_seconds=config.settle_after_seconds
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
        get_db(), PRODUCTS.get(), older_than_seconds=Config.current().settle_after_seconds
    )
