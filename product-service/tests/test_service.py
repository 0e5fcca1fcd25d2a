"""product-service's foundation: health, its own database, and the catalog's invariants."""

import psycopg2
import pytest

from flotilla_testing import checks


def test_livez_and_readyz(client):
    assert client.get("/livez").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"]["database"] == "ok"


def test_readyz_names_an_unreachable_database(app_with, config):
    # create_app only builds: with no database to reach it still returns an app, unready.
    unreachable = config.database_url.replace("@postgres:", "@127.0.0.1:1")
    response = app_with(database_url=unreachable).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "failing"


def test_migrations_are_applied_once(package, config, db):
    checks.assert_migrations_applied_once(db, config.database_url, package.MIGRATIONS)


def test_its_role_is_least_privileged(config, db):
    checks.assert_role_is_not_privileged(db)
    checks.assert_role_opens_no_other_database(db, config.database_url)


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
