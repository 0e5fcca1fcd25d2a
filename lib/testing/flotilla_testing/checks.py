"""Checks of a service's own database role, called from each service's test_service.py."""

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
