"""order-service's foundation: health, its own database, and the orders' invariants."""

import psycopg2
import pytest

from flotilla_testing.checks import ServiceWithDatabase


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
