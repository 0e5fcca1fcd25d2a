"""order-service's periodic jobs, run by its worker (flotilla.worker)."""

from flotilla.db import get_db
from order_service import repository
from order_service.config import Config


def purge_idempotency_keys() -> int:
    """Forget idempotency keys past their retention; return how many."""
    with get_db().transaction() as cursor:
        return repository.purge_idempotency_keys(
            cursor, older_than_hours=Config.current().idempotency_hours
        )
