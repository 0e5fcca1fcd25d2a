"""The checks every service with a database passes. A service's test_service.py runs them
by subclassing: `class TestFoundation(ServiceWithDatabase): ...`."""

import psycopg2
import pytest

from flotilla.db import Database, migrate


def assert_migrations_applied_once(db: Database, url: str, migrations: list) -> None:
    """Every migration file is recorded, and running them again applies nothing."""
    assert migrate(url, *migrations) == []
    with db.transaction() as cursor:
        cursor.execute("SELECT version FROM schema_migrations ORDER BY version")
        versions = [row["version"] for row in cursor.fetchall()]
    files = [path.stem for folder in migrations for path in folder.glob("*.sql")]
    assert versions == sorted(files)


def assert_role_is_not_privileged(db: Database) -> None:
    """The service's role can create no role or database and is no superuser."""
    with db.transaction() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )
        assert cursor.fetchone() == {
            "rolsuper": False,
            "rolcreatedb": False,
            "rolcreaterole": False,
        }


def assert_role_opens_no_other_database(db: Database, url: str) -> None:
    """The service's role is refused every other service's database."""
    with db.transaction() as cursor:
        cursor.execute(
            "SELECT datname FROM pg_database"
            " WHERE NOT datistemplate AND datname NOT IN (current_database(), 'postgres')"
        )
        others = [row["datname"] for row in cursor.fetchall()]
    assert others, "the stack has one service database only?"
    dsn = psycopg2.extensions.parse_dsn(url)
    for other in others:
        with pytest.raises(psycopg2.OperationalError, match="permission denied"):
            psycopg2.connect(**{**dsn, "dbname": other}, connect_timeout=5)


class ServiceWithDatabase:
    """Health, migrations and the least-privileged role of the service under test."""

    def test_livez_and_readyz(self, client):
        assert client.get("/livez").status_code == 200
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json["checks"]["database"] == "ok"

    def test_readyz_names_an_unreachable_database(self, app_with, config):
        # create_app only builds: with no database to reach it still returns an app, unready.
        unreachable = config.database_url.replace("@postgres:", "@127.0.0.1:1")
        response = app_with(database_url=unreachable).test_client().get("/readyz")
        assert response.status_code == 503
        assert response.json["checks"]["database"] == "failing"

    def test_migrations_are_applied_once(self, package, config, db):
        assert_migrations_applied_once(db, config.database_url, package.MIGRATIONS)

    def test_its_role_is_least_privileged(self, config, db):
        assert_role_is_not_privileged(db)
        assert_role_opens_no_other_database(db, config.database_url)
