"""order-service's foundation: health, its own database, the orders' invariants, and the
gauges its worker serves."""

import psycopg2
import pytest

from flotilla_testing.checks import ServiceWithDatabase
from flotilla_testing.metrics import scrape_worker, value


class TestFoundation(ServiceWithDatabase):
    """Health, migrations and the least-privileged role (flotilla_testing.checks)."""


@pytest.mark.parametrize("status", ["shipped", ""])
def test_the_database_refuses_unknown_statuses(db, status):
    with pytest.raises(psycopg2.IntegrityError), db.transaction() as cursor:
        cursor.execute(
            "INSERT INTO orders (user_id, status, total_cents, reservation_id)"
            " VALUES (1, %s, 0, 'r-status')",
            (status,),
        )


def test_the_database_refuses_a_confirmed_order_without_a_total(db):
    with pytest.raises(psycopg2.IntegrityError), db.transaction() as cursor:
        cursor.execute(
            "INSERT INTO orders (user_id, status, reservation_id)"
            " VALUES (1, 'confirmed', 'r-total')"
        )


def test_the_worker_serves_the_pending_orders_and_the_outbox_backlog(app, db):
    with db.transaction() as cursor:
        cursor.execute(
            "INSERT INTO orders (user_id, status, reservation_id, created_at)"
            " VALUES (1, 'pending', 'r-gauges', now() - interval '5 seconds')"
        )
    scrape = scrape_worker(app)
    assert value(scrape, "orders_pending") == 1 and value(scrape, "orders_overdue") == 0
    assert value(scrape, "orders_oldest_seconds") >= 5
    assert ("outbox_pending", frozenset()) in scrape
