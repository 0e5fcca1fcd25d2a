"""product-service's foundation: health, its own database, and the catalog's invariants."""

import psycopg2
import pytest

from flotilla_testing.checks import ServiceWithDatabase


class TestFoundation(ServiceWithDatabase):
    """Health, migrations and the least-privileged role (flotilla_testing.checks)."""


@pytest.mark.parametrize(
    "column, value", [("stock", -1), ("price_cents", -1), ("sku", ""), ("name", "")]
)
def test_the_database_refuses_broken_products(db, column, value):
    row = {"sku": "SKU-CHECK", "name": "Probe", "price_cents": 100, "stock": 1, column: value}
    with pytest.raises(psycopg2.IntegrityError), db.transaction() as cursor:
        cursor.execute(
            "INSERT INTO products (sku, name, price_cents, stock)"
            " VALUES (%(sku)s, %(name)s, %(price_cents)s, %(stock)s)",
            row,
        )
