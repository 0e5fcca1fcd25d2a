"""The database: least privilege, and migrations that are safe to run again and at once."""

from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest

from flotilla.db import migrate
from user_service import MIGRATIONS


def test_the_service_role_is_not_privileged(db):
    with db.transaction() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )
        assert cursor.fetchone() == {
            "rolsuper": False,
            "rolcreatedb": False,
            "rolcreaterole": False,
        }


@pytest.mark.parametrize("other_database", ["products", "orders"])
def test_the_service_role_cannot_open_other_services_databases(config, other_database):
    dsn = psycopg2.extensions.parse_dsn(config.database_url)
    dsn["dbname"] = other_database
    with pytest.raises(psycopg2.OperationalError, match="permission denied"):
        psycopg2.connect(**dsn, connect_timeout=5)


def test_migrations_are_recorded_and_rerunning_them_applies_nothing(config, db):
    assert migrate(config.database_url, MIGRATIONS) == []
    with db.transaction() as cursor:
        cursor.execute("SELECT version FROM schema_migrations ORDER BY version")
        versions = [row["version"] for row in cursor.fetchall()]
    assert versions == sorted(path.stem for path in MIGRATIONS.glob("*.sql"))


def test_replicas_migrating_at_once_apply_each_file_once(config, db, tmp_path):
    (tmp_path / "001_probe.sql").write_text("CREATE TABLE migration_probe (id int)")
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda _: migrate(config.database_url, tmp_path), range(4)))
        assert sorted(results) == [[], [], [], ["001_probe"]]
    finally:
        with db.transaction() as cursor:
            cursor.execute("DROP TABLE IF EXISTS migration_probe")
            cursor.execute("DELETE FROM schema_migrations WHERE version = '001_probe'")


def test_a_failing_migration_is_not_recorded(config, db, tmp_path):
    (tmp_path / "001_broken.sql").write_text("CREATE TABLE half_done (id int); SELECT 1/0;")
    with pytest.raises(psycopg2.Error):
        migrate(config.database_url, tmp_path)
    with db.transaction() as cursor:
        cursor.execute("SELECT to_regclass('half_done') AS t")
        assert cursor.fetchone()["t"] is None
        cursor.execute("SELECT count(*) AS n FROM schema_migrations WHERE version = '001_broken'")
        assert cursor.fetchone()["n"] == 0
