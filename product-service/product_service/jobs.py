"""product-service's periodic jobs, run by its worker (flotilla.worker)."""

from flotilla.db import get_db
from product_service import inventory
from product_service.cache import CACHE
from product_service.config import Config


def release_stale_reservations() -> int:
    """Give back the stock of reservations of the former two-step flow never committed."""
    return inventory.release_stale(
        get_db(), CACHE.get(), older_than_seconds=Config.current().reservation_ttl_seconds
    )
