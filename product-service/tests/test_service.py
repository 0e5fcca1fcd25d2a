"""product-service's foundation: health, its own database, and the catalog's invariants."""

import psycopg2
import pytest

from flotilla.db import migrate
from product_service import MIGRATIONS


def test_livez_and_readyz(client):
    assert client.get("/livez").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok"}


def test_migrations_are_applied_once(config):
    assert migrate(config.database_url, MIGRATIONS) == []


def test_the_service_role_cannot_open_other_databases(config):
    dsn = psycopg2.extensions.parse_dsn(config.database_url)
    with pytest.raises(psycopg2.OperationalError, match="permission denied"):
        psycopg2.connect(**{**dsn, "dbname": "users"}, connect_timeout=5)


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


def test_unknown_paths_are_json_404(client):
    response = client.get("/api/products/nothing/here")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
