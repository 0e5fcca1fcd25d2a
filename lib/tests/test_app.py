"""What every app built on create_base_app gets: health, JSON errors, metrics per URL rule,
gauges its worker serves; and the worker's and migrations' guarantees, against the stack's
real PostgreSQL."""

import threading
from concurrent.futures import ThreadPoolExecutor

import probe
import psycopg2
import pytest
from flask import Flask

from flotilla import health, metrics
from flotilla.app import create_base_app
from flotilla.db import Database, migrate
from flotilla.metrics import UNMATCHED_ROUTE
from flotilla.worker import Job, run_job
from flotilla_testing.metrics import REQUESTS, scrape_client, scrape_worker, value


@pytest.fixture
def app(db_url: str) -> Flask:
    """The probe app with a database, as a service's create_app builds one."""
    app = probe.create_app()
    Database(db_url).init_app(app)
    return app


@pytest.fixture
def client(app: Flask):
    return app.test_client()


def test_readyz_names_the_failing_check(db_url):
    app = create_base_app(__name__, service="probe")
    unreachable = Database(db_url.replace("@postgres:", "@127.0.0.1:1"))
    ready = Database(db_url)
    health.init_app(app, {"database": unreachable.ping, "other": ready.ping})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "failing", "other": "ok"}
    assert app.test_client().get("/livez").status_code == 200


def test_gauges_are_read_at_every_scrape_of_the_worker_alone(app, client):
    depths = {"a.dead": 3}
    metrics.add_gauges(app, "backlog", "Waiting.", lambda: {"pending": 2, "oldest_seconds": 1.5})
    metrics.add_gauges(app, "dead", "Dead letters.", lambda: dict(depths), label="queue")
    scrape = scrape_worker(app)
    assert value(scrape, "backlog_pending") == 2 and value(scrape, "backlog_oldest_seconds") == 1.5
    assert value(scrape, "dead", queue="a.dead") == 3
    depths["b.dead"] = 1
    assert value(scrape_worker(app), "dead", queue="b.dead") == 1
    # One reading per service: a web replica serves them neither in /metrics nor in /readyz.
    assert not {name for name, _ in scrape_client(client)} & {"backlog_pending", "dead"}
    assert client.get("/readyz").json == {"status": "ok", "checks": {}}


def test_a_gauge_that_cannot_be_read_is_left_out_of_that_scrape(app, caplog):
    metrics.add_gauges(app, "away", "A source that is down.", lambda: 1 / 0)
    metrics.add_gauges(app, "here", "A source that answers.", lambda: {"rows": 1})
    scrape = scrape_worker(app)
    assert value(scrape, "here_rows") == 1
    assert not [name for name, _ in scrape if name.startswith("away")]
    assert "gauge unavailable" in caplog.messages


def test_unknown_paths_are_json_404(client):
    response = client.get("/api/nothing/here/at-all")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_metrics_count_requests_by_url_rule_and_status(client):
    before = scrape_client(client)
    for number in (1, 2, 3):
        assert client.get(f"/probe/{number}").status_code == 200
    assert client.post("/probe/4").status_code == 405
    assert client.get("/no/such/path/42").status_code == 404
    after = scrape_client(client)

    def counted(method: str, route: str, status: str) -> float:
        labels = {"method": method, "route": route, "status": status}
        return value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels)

    # One series for the three paths: the URL rule is the label, never the path.
    assert counted("GET", "/probe/<int:number>", "200") == 3
    assert counted("POST", UNMATCHED_ROUTE, "405") == 1
    assert counted("GET", UNMATCHED_ROUTE, "404") == 1
    routes = {dict(labels).get("route", "") for _, labels in after}
    assert not any("/probe/1" in route or "/no/such" in route for route in routes)


def test_metrics_time_requests_in_a_histogram(client):
    before = scrape_client(client)
    assert client.get("/probe/7").status_code == 200
    after = scrape_client(client)
    labels = {"method": "GET", "route": "/probe/<int:number>"}
    name = "http_request_duration_seconds"
    count = value(after, f"{name}_count", **labels) - value(before, f"{name}_count", **labels)
    assert count == 1
    assert value(after, f"{name}_sum", **labels) > value(before, f"{name}_sum", **labels)
    every = value(after, f"{name}_bucket", **labels, le="+Inf")
    assert every == value(after, f"{name}_count", **labels)
    assert value(after, f"{name}_bucket", **labels, le="10.0") == every
    # The scrape being answered is the one request in flight.
    assert value(after, "http_requests_in_flight") >= 1


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


def test_replicas_migrating_at_once_apply_each_file_once(db_url, db, tmp_path):
    (tmp_path / "001_probe.sql").write_text("CREATE TABLE migration_probe (id int)")
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda _: migrate(db_url, tmp_path), range(4)))
        assert sorted(results) == [[], [], [], ["001_probe"]]
        assert migrate(db_url, tmp_path) == []  # and again: nothing to apply
    finally:
        with db.transaction() as cursor:
            cursor.execute("DROP TABLE IF EXISTS migration_probe")
            cursor.execute("DELETE FROM schema_migrations WHERE version = '001_probe'")


def test_a_failing_migration_is_not_recorded(db_url, db, tmp_path):
    (tmp_path / "001_broken.sql").write_text("CREATE TABLE half_done (id int); SELECT 1/0;")
    with pytest.raises(psycopg2.Error):
        migrate(db_url, tmp_path)
    with db.transaction() as cursor:
        cursor.execute("SELECT to_regclass('half_done') AS t")
        assert cursor.fetchone()["t"] is None
        cursor.execute("SELECT count(*) AS n FROM schema_migrations WHERE version = '001_broken'")
        assert cursor.fetchone()["n"] == 0
