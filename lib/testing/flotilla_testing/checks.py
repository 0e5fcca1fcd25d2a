"""Checks every service with a database passes, /metrics' among them. A service's tests
collect them with

from flotilla_testing.checks import *  # noqa: F403
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest

from flotilla.db import migrate
from flotilla.worker import Job, run_job
from flotilla_testing.metrics import *  # noqa: F403


def test_livez_and_readyz(client):
    assert client.get("/livez").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"]["database"] == "ok"


def test_readyz_names_the_failing_database(app_with, config):
    unreachable = config.database_url.replace("@postgres:", "@127.0.0.1:1")
    response = app_with(database_url=unreachable).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "failing"


def test_building_the_app_touches_no_database(app_with, config):
    # create_app only builds: with no database to reach, it still returns an app.
    assert app_with(database_url=config.database_url.replace("@postgres:", "@127.0.0.1:1"))


def test_unknown_paths_are_json_404(client):
    response = client.get("/api/nothing/here/at-all")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_a_job_runs_in_one_replica_at_a_time(app):
    started, finish = threading.Event(), threading.Event()

    def slow() -> int:
        started.set()
        finish.wait(10)
        return 1

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(run_job, app, Job("probe", 60, slow))
        assert started.wait(10)
        # The same job elsewhere (another worker replica) skips while the first holds it.
        assert run_job(app, Job("probe", 60, lambda: 1)) is None
        finish.set()
        assert first.result() == 1
    assert run_job(app, Job("probe", 60, lambda: 2)) == 2


def test_migrations_are_recorded_and_rerunning_them_applies_nothing(package, config, db):
    assert migrate(config.database_url, *package.MIGRATIONS) == []
    with db.transaction() as cursor:
        cursor.execute("SELECT version FROM schema_migrations ORDER BY version")
        versions = [row["version"] for row in cursor.fetchall()]
    files = [path.stem for folder in package.MIGRATIONS for path in folder.glob("*.sql")]
    assert versions == sorted(files)


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


def test_the_service_role_cannot_open_other_services_databases(config, db):
    dsn = psycopg2.extensions.parse_dsn(config.database_url)
    # Every other service's database on the server (postgres' own is open to all roles).
    with db.transaction() as cursor:
        cursor.execute(
            "SELECT datname FROM pg_database"
            " WHERE NOT datistemplate AND datname NOT IN ('postgres', current_database())"
        )
        others = [row["datname"] for row in cursor.fetchall()]
    assert others, "no other service's database to try"
    for other in others:
        with pytest.raises(psycopg2.OperationalError, match="permission denied"):
            psycopg2.connect(**{**dsn, "dbname": other}, connect_timeout=5)
