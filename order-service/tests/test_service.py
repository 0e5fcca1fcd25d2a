"""order-service's foundation: health, its own database, and the orders' invariants."""

import psycopg2
import pytest

from flotilla import create_base_app
from flotilla.db import Database, migrate
from flotilla.health import register_health
from order_service import MIGRATIONS


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
        psycopg2.connect(**{**dsn, "dbname": "products"}, connect_timeout=5)


@pytest.mark.parametrize("status", ["shipped", ""])
def test_the_database_refuses_unknown_statuses(db, status):
    with pytest.raises(psycopg2.IntegrityError), db.transaction() as cursor:
        cursor.execute(
            "INSERT INTO orders (user_id, status, total_cents, reservation_id)"
            " VALUES (1, %s, 0, 'r-status')",
            (status,),
        )


def test_readyz_names_the_failing_check(config):
    unreachable = Database(config.database_url.replace("@postgres:", "@127.0.0.1:1"))
    app = create_base_app(__name__, service="probe")
    register_health(app, {"database": unreachable.ping})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "failing"}
