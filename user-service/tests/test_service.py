"""user-service's foundation: health, its own database and role."""

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
